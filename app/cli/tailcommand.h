#pragma once

#include <QStringList>

namespace sessionscope {

// sessionscope-cli tail SESSION [--from SEQ] [--raw|--transcript] [--until ...]:
// follows a session stream with resume (see the verb's --help).
int runTailCommand(const QStringList &args);

// sessionscope-cli stop SESSION [--message TEXT]: a stop chunk to `.in`.
int runStopCommand(const QStringList &args);

} // namespace sessionscope
