#pragma once

#include "server/httpexchange.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

namespace sessionscope {

class DurableStream;
class StreamStore;

struct SseOptions
{
    qint64 startSeq = 0; // first seq to send (clamped to the trim point and the tail)
    int timeoutMs = 60'000;
    int pingIntervalMs = 5000;
    // X-Peek-Settled on a settled stream: send the backlog, wait drainMs for
    // more, then [DONE].
    bool settled = false;
    int drainMs = 0;
};

// One SSE subscription in S2's batch format. Backlog and live records go
// through the same pump: while the client keeps up it is fed from the
// stream's in-memory window (batches shared with every other subscriber at the
// same cursor); a client that falls behind the window is fed from SQLite. At
// most ~1 MiB is queued on a socket at a time, so a slow client costs memory
// for its cursor only. Pings every pingIntervalMs of silence, `[DONE]` at the
// timeout, and gone as soon as the client disconnects.
class SseSubscriber : public QObject
{
    Q_OBJECT

public:
    SseSubscriber(HttpExchange::Ptr exchange, StreamStore &store, DurableStream *stream,
                  SseOptions options, QObject *parent = nullptr);
    ~SseSubscriber() override;

    // Writes the response head, then everything from startSeq.
    void start(const QList<HttpExchange::Header> &headers);
    // `[DONE]` and the end of the response (timeout, drain, shutdown).
    void close();

    qint64 cursor() const { return m_cursor; }

Q_SIGNALS:
    void finished();

private:
    void pump();
    void sendPing();
    void onPingTimer();
    // One SSE event, written as one chunk from its pieces.
    void writeEvent(std::initializer_list<QByteArrayView> event);
    void finish();

    HttpExchange::Ptr m_exchange;
    StreamStore &m_store;
    DurableStream *m_stream;
    SseOptions m_options;
    qint64 m_cursor = 0;
    qint64 m_bytesSent = 0;
    QTimer m_timeout;
    QTimer m_ping;
    QTimer m_drain;
    QElapsedTimer m_sinceWrite;
    QByteArray m_buffer;
    bool m_finished = false;
    bool m_pumping = false;
    bool m_blocked = false; // stopped at the high-water mark: bytesWritten resumes
};

} // namespace sessionscope
