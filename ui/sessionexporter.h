#pragma once

#include "net/result.h"
#include "net/streamrecord.h"
#include "net/uimessage.h"

#include <QFuture>
#include <QList>
#include <QPair>
#include <QString>

namespace sessionscope {

class StreamRecordModel;

using ChannelRecord = QPair<Channel, StreamRecord>;

// Export and offline open. Records go out as JSON lines
// ({"channel","seq_num","timestamp","headers","body"}; token headers masked),
// the transcript as one JSON document. Files are written and read on the
// thread pool; only copying rows out of the model happens on the caller's.
class SessionExporter
{
public:
    static QList<ChannelRecord> snapshot(const StreamRecordModel &model);
    static QFuture<Result<void>> writeRecords(const QString &path, QList<ChannelRecord> records);
    static QFuture<Result<void>> writeTranscript(const QString &path, QList<UIMessage> messages);
    static QFuture<Result<QList<ChannelRecord>>> readRecords(const QString &path);

    // The format, for tests and the readers above.
    static QByteArray recordLine(const ChannelRecord &record);
    static Result<ChannelRecord> parseLine(QByteArrayView line, int lineNumber);
};

} // namespace sessionscope
