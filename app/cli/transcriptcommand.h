#pragma once

#include <QStringList>

namespace sessionscope {

// `transcript FILE|- [--channel in|out]`: the conversation a capture holds, as
// one JSON object on stdout (see the verb's --help). Errors go to stderr as
// JSON lines; exit status 1 when any record failed.
int runTranscriptCommand(const QStringList &args);

} // namespace sessionscope
