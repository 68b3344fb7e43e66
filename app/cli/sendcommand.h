#pragma once

#include <QStringList>

namespace sessionscope {

// sessionscope-cli send SESSION TEXT [--client-data JSON]
// Appends a submit-message to `.in` and follows `.out` until the
// turn-complete that answers it, one JSON line per record, then a summary
// line naming the run and version that answered.
int runSendCommand(const QStringList &args);

// sessionscope-cli runs SESSION
// The session's SessionRun audit, oldest first: reason, run, version, status.
int runRunsCommand(const QStringList &args);

} // namespace sessionscope
