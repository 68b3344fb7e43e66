#pragma once

#include "net/result.h"
#include "net/sseparser.h"
#include "net/streamrecord.h"

#include <QByteArrayView>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

// One SSE event of a session stream, decoded (protocol.md, "Subscribe").
struct S2Event
{
    enum class Type : quint8 {
        Batch, // `event: batch`: records and the tail
        Ping,  // `event: ping`: pingTimestamp and the tail
        Done,  // `data: [DONE]`: the server is about to close; reconnect
        Error, // `event: error`: serverError holds the server's message
        Other, // any other event; eventType names it
    };

    Type type = Type::Other;
    QByteArray eventType;
    QList<StreamRecord> records; // the well-formed records, in stream order
    std::optional<StreamTail> tail;
    qint64 pingTimestamp = 0;
    QString serverError;
    // What could not be decoded. Each names the seq when it is known; the
    // records above are still good.
    QList<Error> errors;
};

// Turns SSE events into records. The batch JSON is parsed once, straight into
// StreamRecord fields (no JSON tree), and a bad record costs only itself: the
// others in its batch are kept and the next event decodes normally. Batches
// in the layout S2 writes are matched literally; any other layout (member
// order, whitespace) is read by the general reader, with the same result.
class S2BatchDecoder
{
public:
    S2Event decode(const SseEvent &event);
    // The same into `out`, which is cleared first and keeps its capacity: with
    // SseParser::feedViews(), the streaming path that allocates only the
    // records' bodies.
    void decode(const SseEventView &event, S2Event &out);

    // The JSON of a `batch` / `ping` event's data, for callers that already
    // know the event type. Appends to `into`.
    static void decodeBatchJson(QByteArrayView json, S2Event &into);
    static void decodePingJson(QByteArrayView json, S2Event &into);

    // The highest seq decoded so far (-1 before the first record) and the
    // number of records, across all events given to decode().
    qint64 lastSeq() const { return m_lastSeq; }
    qint64 recordCount() const { return m_recordCount; }
    void reset();

private:
    void decodeData(QByteArrayView type, QByteArrayView data, S2Event &out);

    qint64 m_lastSeq = -1;
    qint64 m_recordCount = 0;
};

} // namespace sessionscope
