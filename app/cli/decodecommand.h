#pragma once

#include <QStringList>

namespace sessionscope {

// `decode FILE|-`: one JSON line per record on stdout, errors as JSON lines on
// stderr. Exit status 0 when everything decoded, 1 when anything failed.
int runDecodeCommand(const QStringList &args);

} // namespace sessionscope
