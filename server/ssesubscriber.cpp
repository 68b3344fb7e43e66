#include "server/ssesubscriber.h"

#include "server/durablestream.h"
#include "server/streamstore.h"

#include <QDateTime>
#include <QTcpSocket>

namespace sessionscope {

namespace {

// Stop queueing on a socket above this many unsent bytes; resume on bytesWritten.
constexpr qint64 kHighWater = 1024 * 1024;

} // namespace

SseSubscriber::SseSubscriber(HttpExchange::Ptr exchange, StreamStore &store, DurableStream *stream,
                             SseOptions options, QObject *parent)
    : QObject(parent), m_exchange(std::move(exchange)), m_store(store), m_stream(stream),
      m_options(options)
{
    m_stream->addSubscriber();
    m_cursor = qBound(m_stream->trimSeq(), m_options.startSeq, m_stream->nextSeq());
    m_timeout.setSingleShot(true);
    m_ping.setSingleShot(true);
    m_drain.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, &SseSubscriber::close);
    connect(&m_drain, &QTimer::timeout, this, &SseSubscriber::close);
    connect(&m_ping, &QTimer::timeout, this, &SseSubscriber::onPingTimer);
    connect(m_stream, &DurableStream::appended, this, &SseSubscriber::pump);
    connect(m_stream, &DurableStream::trimmed, this, &SseSubscriber::pump);
    if (QTcpSocket *socket = m_exchange->socket()) {
        connect(socket, &QTcpSocket::disconnected, this, &SseSubscriber::finish);
        connect(socket, &QObject::destroyed, this, &SseSubscriber::finish);
        // Only a subscriber that stopped at the high-water mark resumes here;
        // new records reach the others through `appended`, so a thousand
        // sockets draining do not each re-run the pump.
        connect(socket, &QTcpSocket::bytesWritten, this, [this] {
            if (m_blocked && m_exchange->bytesToWrite() < kHighWater / 2)
                pump();
        });
    }
}

SseSubscriber::~SseSubscriber()
{
    if (m_stream)
        m_stream->removeSubscriber();
}

void SseSubscriber::start(const QList<HttpExchange::Header> &headers)
{
    m_exchange->beginStream(200, headers);
    if (!m_exchange->isConnected()) {
        finish();
        return;
    }
    m_sinceWrite.start();
    m_timeout.start(m_options.timeoutMs);
    m_ping.start(m_options.pingIntervalMs);
    const bool backlog = m_cursor < m_stream->nextSeq();
    pump();
    // Nothing to send yet: a ping tells the client where the tail is now
    // instead of leaving it waiting for the first interval.
    if (!backlog && !m_finished)
        sendPing();
}

void SseSubscriber::writeEvent(std::initializer_list<QByteArrayView> event)
{
    m_exchange->writeChunk(event);
    m_sinceWrite.restart();
}

void SseSubscriber::pump()
{
    if (m_finished || m_pumping)
        return;
    m_pumping = true;
    m_blocked = false;
    while (!m_finished) {
        m_cursor = qMax(m_cursor, m_stream->trimSeq());
        const qint64 tail = m_stream->nextSeq();
        if (m_cursor >= tail)
            break;
        if (m_exchange->bytesToWrite() >= kHighWater) {
            m_blocked = true;
            break;
        }
        QByteArray data;
        qint64 end = m_cursor;
        if (m_cursor >= m_stream->windowStart()) {
            data = m_stream->batchJson(m_cursor, tail, &end);
        } else {
            const int count = int(
                qMin<qint64>(DurableStream::MaxBatchRecords, m_stream->windowStart() - m_cursor));
            auto records = m_store.read(m_stream, m_cursor, count);
            if (!records || records->isEmpty()) {
                m_buffer = "event: error\ndata: ";
                m_buffer.append(records ? "records could not be read"
                                        : records.error().message.toUtf8());
                m_buffer.append("\n\n");
                writeEvent({m_buffer});
                close();
                break;
            }
            // Trimmed records may have vanished between the check and the read.
            const qint64 first = records->first().record.seqNum;
            end = records->last().record.seqNum + 1;
            m_cursor = first;
            data = DurableStream::batchJsonFor(*records, m_stream->tail());
        }
        m_bytesSent += data.size();
        // Only the id line is this subscriber's own; `data` is shared with
        // every subscriber at the same cursor and is not copied.
        m_buffer.resize(0);
        m_buffer.append("id: ");
        m_buffer.append(QByteArray::number(m_cursor));
        m_buffer.append(',');
        m_buffer.append(QByteArray::number(end));
        m_buffer.append(',');
        m_buffer.append(QByteArray::number(m_bytesSent));
        m_buffer.append("\nevent: batch\ndata: ");
        writeEvent({m_buffer, data, "\n\n"});
        m_cursor = end;
    }
    m_pumping = false;
    if (!m_finished && m_options.settled && m_cursor >= m_stream->nextSeq() && !m_drain.isActive())
        m_drain.start(m_options.drainMs);
}

void SseSubscriber::sendPing()
{
    QByteArray event = "event: ping\ndata: {\"timestamp\":";
    event.append(QByteArray::number(QDateTime::currentMSecsSinceEpoch()));
    event.append(",\"tail\":");
    event.append(DurableStream::tailJson(m_stream->tail()));
    event.append("}\n\n");
    writeEvent({event});
}

void SseSubscriber::onPingTimer()
{
    if (m_finished)
        return;
    // One timer per subscriber, re-armed for the remaining silence instead of
    // restarted on every write: cheap with thousands of subscribers.
    const qint64 silent = m_sinceWrite.elapsed();
    if (silent + 5 >= m_options.pingIntervalMs) {
        sendPing();
        m_ping.start(m_options.pingIntervalMs);
    } else {
        m_ping.start(int(m_options.pingIntervalMs - silent));
    }
}

void SseSubscriber::close()
{
    if (m_finished)
        return;
    // Committed records whose announcement StreamStore is still coalescing
    // go out before the end of the stream.
    pump();
    if (m_finished)
        return;
    m_exchange->writeChunk("data: [DONE]\n\n");
    m_exchange->endStream();
    finish();
}

void SseSubscriber::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_timeout.stop();
    m_ping.stop();
    m_drain.stop();
    if (m_exchange->isAnswered() && !m_exchange->isFinished())
        m_exchange->endStream();
    if (m_stream) {
        disconnect(m_stream, nullptr, this, nullptr);
        m_stream->removeSubscriber();
        m_stream = nullptr;
    }
    Q_EMIT finished();
    deleteLater();
}

} // namespace sessionscope
