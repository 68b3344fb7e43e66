#pragma once

#include "models/compactrecord.h"
#include "models/conversationupdate.h"
#include "net/chunkbody.h"
#include "net/conversationreducer.h"
#include "net/result.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QList>
#include <QMetaType>

#include <optional>

namespace sessionscope {

// Decoded records in the inspector's compact form, ready for
// StreamRecordModel::appendBatch. Implicitly shared: cheap to pass through a
// queued signal.
struct RecordBatch
{
    QList<CompactRecord> records; // arrival order; offsets point into `bytes`
    QByteArray bytes;             // each record's encoded headers, body and summary
    QList<QByteArray> types;      // the names CompactRecord::typeIndex refers to
    qint64 wireBytes = 0;         // bodies plus header names and values, as S2 meters them

    bool isEmpty() const { return records.isEmpty(); }
    qsizetype size() const { return records.size(); }
    QByteArrayView headers(const CompactRecord &r) const { return view(r.offset, r.headersLength); }
    QByteArrayView body(const CompactRecord &r) const { return view(r.offset + r.headersLength, r.bodyLength); }
    QByteArrayView summary(const CompactRecord &r) const
    {
        return view(r.offset + r.headersLength + r.bodyLength, r.summaryLength);
    }
    QByteArray type(const CompactRecord &r) const { return types.value(r.typeIndex); }

private:
    QByteArrayView view(quint32 offset, quint32 length) const
    {
        return QByteArrayView(bytes).sliced(offset, length);
    }
};

// Does all the parsing the inspector and the conversation need, on whatever
// thread owns it (StreamIngest runs one on a worker thread): SSE framing and
// S2 batches for raw bytes, each data record's body (for its chunk type and
// summary), and the ConversationReducer. Records at or below the last seq of
// their channel are dropped (a resume replays them), so seqs ascend per
// channel in every batch. Take batches well before they hold 4 GiB: a record
// that would not fit is kept without its body, and an error says so.
class RecordBatchDecoder
{
public:
    struct Options
    {
        bool conversation = true; // also fold records into a ConversationReducer
        int maxSummaryChars = 160;
    };

    RecordBatchDecoder();
    explicit RecordBatchDecoder(Options options);

    // Raw bytes of one stream's SSE response, split anywhere.
    void feedSse(Channel channel, QByteArrayView bytes);
    // The connection ended: an event cut off mid-way is reported, and the
    // next feedSse() starts a fresh response.
    void finishSse(Channel channel);
    // Records another component already framed (SessionOutSubscription).
    void addRecords(Channel channel, const QList<StreamRecord> &records);
    void addRecord(Channel channel, const StreamRecord &record);

    qsizetype pendingRecords() const { return m_batch.records.size(); }
    qsizetype pendingBytes() const { return m_batch.bytes.size(); }
    RecordBatch takeBatch();
    ConversationUpdate takeConversationUpdate();
    // Undecodable events and bodies, server `event: error`s, torn events.
    QList<Error> takeErrors();
    // The newest tail since the last call, if it changed.
    std::optional<StreamTail> takeTail(Channel channel);

    qint64 lastSeq(Channel channel) const { return m_channels[slot(channel)].lastSeq; }
    qint64 duplicatesSkipped() const { return m_duplicates; }
    qint64 recordsDecoded() const { return m_decoded; }
    const ConversationReducer &reducer() const { return m_reducer; }
    const Options &options() const { return m_options; }

    void reset();

    // The inspector's one-line description of a record; `body` is its decoded
    // body (null for control and command records, or when it did not decode).
    static QString summarize(const StreamRecord &record, const DecodedBody *body, int maxChars);

private:
    struct ChannelState
    {
        SseParser parser;
        S2BatchDecoder decoder;
        QList<SseEvent> events;
        qint64 lastSeq = -1;
        std::optional<StreamTail> tail;
        bool tailChanged = false;
    };

    static int slot(Channel channel) { return channel == Channel::In ? 0 : 1; }
    void handleEvent(Channel channel, const SseEvent &event);
    void setTail(Channel channel, const StreamTail &tail);
    quint16 internType(const QByteArray &type);
    void store(Channel channel, const StreamRecord &record, const QByteArray &type, const QString &summary,
               bool decodeError);

    Options m_options;
    ChannelState m_channels[2];
    ConversationReducer m_reducer;
    RecordBatch m_batch;
    QHash<QByteArray, quint16> m_batchTypes;
    QList<Error> m_errors;
    qint64 m_duplicates = 0;
    qint64 m_decoded = 0;
};

} // namespace sessionscope

Q_DECLARE_METATYPE(sessionscope::RecordBatch)
