#pragma once

#include "net/result.h"
#include "net/streamrecord.h"

#include <QStringList>

#include <optional>

namespace sessionscope {

// `decode FILE|-`: one JSON line per record on stdout, errors as JSON lines on
// stderr. Exit status 0 when everything decoded, 1 when anything failed.
int runDecodeCommand(const QStringList &args);

class JsonLineWriter;

// The line `decode` prints for one record (also `tail`'s). Returns the error
// the record's body had, if any; the line is written either way.
std::optional<Error> writeRecordLine(JsonLineWriter &out, const StreamRecord &record);

} // namespace sessionscope
