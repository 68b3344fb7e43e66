#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <optional>
#include <string>
#include <type_traits>

namespace sessionscope {

// One dispatched event (WHATWG HTML, "Event stream interpretation").
struct SseEvent
{
    QByteArray type; // "message" when the event had no `event` field
    QByteArray data; // `data` lines joined with '\n'
    QByteArray id;   // the last event ID buffer at dispatch time

    bool operator==(const SseEvent &other) const = default;
};

// The same event viewed in place, without a copy: the views point into the
// parser or into the bytes being fed, and hold only during the call they are
// passed to.
struct SseEventView
{
    QByteArrayView type; // "message" when the event had no `event` field
    QByteArrayView data; // `data` lines joined with '\n'
    QByteArrayView id;   // the last event ID buffer at dispatch time
};

// An incremental event-stream parser: the same events come out whatever way the
// input is split into chunks. Bytes are kept as they are (no U+FFFD
// replacement): the JSON layer above validates UTF-8 and names the record.
//
// Memory is bounded: an event whose buffered bytes exceed maxEventBytes is
// dropped with an error and the parser skips to the next blank line, so a
// stream without blank lines cannot grow it without limit.
class SseParser
{
public:
    static constexpr qsizetype DefaultMaxEventBytes = 16 * 1024 * 1024;

    explicit SseParser(qsizetype maxEventBytes = DefaultMaxEventBytes);

    // Parses `bytes` and appends every event they complete to `out`.
    void feed(QByteArrayView bytes, QList<SseEvent> &out);

    // Parses `bytes` and calls onEvent(const SseEventView &) for every event
    // they complete, in order. Nothing is copied: an event whose single data
    // line lies in `bytes` is viewed right there. onEvent must not feed this
    // parser.
    template <typename OnEvent>
    void feedViews(QByteArrayView bytes, OnEvent &&onEvent)
    {
        using Handler = std::remove_reference_t<OnEvent>;
        consume(bytes, {[](void *handler, const SseEventView &event) { (*static_cast<Handler *>(handler))(event); },
                        const_cast<void *>(static_cast<const void *>(&onEvent))});
    }

    // Errors since the last call (oversized events), in stream order.
    QList<Error> takeErrors();

    // Ends the stream. Per the spec an event not followed by a blank line is
    // discarded; this says so when it happens instead of losing it silently.
    // The next feed() starts a new stream (a BOM is stripped again); the last
    // event id and retry survive, as they do across an EventSource reconnect.
    std::optional<Error> finish();

    QByteArray lastEventId() const;
    std::optional<qint64> retryMs() const { return m_retryMs; }
    qsizetype maxEventBytes() const { return m_maxEventBytes; }
    qint64 bytesFed() const { return m_bytesFed; }

    // Back to the state of a fresh parser (a new connection).
    void reset();

private:
    struct Sink
    {
        void (*call)(void *handler, const SseEventView &event);
        void *handler;
    };
    void consume(QByteArrayView bytes, Sink sink);
    void consumeLines(QByteArrayView bytes, Sink sink);
    // `inInput`: the line lies in the bytes being fed (not in m_line), so its
    // data may be viewed instead of copied until the feed ends.
    void processLine(QByteArrayView line, bool inInput, Sink sink);
    void processField(QByteArrayView field, QByteArrayView value, bool inInput);
    void dispatch(Sink sink);
    void copyViewedData(); // before the bytes it points into go away
    qsizetype dataBytes() const { return m_dataViewed ? m_viewedData.size() + 1 : qsizetype(m_data.size()); }
    void overflow();
    bool pendingEvent() const;
    void clearStreamState(); // keeps what outlives a connection: last event id, retry

    qsizetype m_maxEventBytes;
    // std::string: its appends are much cheaper than QByteArray's on this path.
    std::string m_line;      // a line split across chunks
    std::string m_data;      // data buffer, each line followed by '\n'
    // The data buffer is this one line (and a '\n') of the bytes being fed,
    // while m_dataViewed; m_data is empty then.
    QByteArrayView m_viewedData;
    bool m_dataViewed = false;
    std::string m_eventType; // event type buffer
    std::string m_lastEventId;
    // QByteArray copies for SseEvent, remade only when they change so that
    // events share one allocation.
    mutable QByteArray m_lastEventIdBytes;
    mutable bool m_lastEventIdChanged = false;
    QByteArray m_dispatchedType;
    std::optional<qint64> m_retryMs;
    QList<Error> m_errors;
    qint64 m_bytesFed = 0;
    int m_bomMatched = 0;     // leading BOM bytes seen so far
    bool m_bomDone = false;   // the BOM check is over
    bool m_skipLF = false;    // the previous chunk ended with CR
    bool m_skipping = false;  // after an overflow, until the next blank line
    bool m_lineStarted = false; // while skipping: the current line has bytes
};

} // namespace sessionscope
