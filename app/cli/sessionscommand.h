#pragma once

#include <QStringList>

namespace sessionscope {

// sessionscope-cli sessions list|get|create|close: the sessions REST calls
// against any backend (see the verb's --help). JSON lines on stdout, or
// tables with --table; errors as JSON lines on stderr.
int runSessionsCommand(const QStringList &args);

} // namespace sessionscope
