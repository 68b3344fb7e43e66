#pragma once

#include <QStringList>

#include <string>

namespace sessionscope {

// `transcript FILE|- [--channel in|out]`: the conversation a capture holds, as
// one JSON object on stdout (see the verb's --help). Errors go to stderr as
// JSON lines; exit status 1 when any record failed.
int runTranscriptCommand(const QStringList &args);

class ConversationReducer;

// The JSON object `transcript` prints (also `tail --transcript`), laid out
// like the fixtures' .expect.json files.
std::string transcriptText(const ConversationReducer &reducer, qint64 lastSeq, qint64 records, qint64 commands);

} // namespace sessionscope
