#pragma once

#include "httptestclient.h"

#include <QObject>
#include <QTcpSocket>

#include <functional>

namespace sessionscope::test {

struct SseTestEvent
{
    QByteArray event; // empty when the event had no `event:` field
    QByteArray data;
    QByteArray id;
};

struct SseTestRecord
{
    qint64 seq = -1;
    qint64 timestamp = 0;
    QByteArray body; // the body string, unescaped
    QList<TestHeader> headers;
};

// Reads one SSE response off a raw socket: response head, chunked framing,
// events, and the records of `batch` events decoded from their JSON. Written
// independently of net/ so the server's framing is checked by a second reader.
class SseTestClient : public QObject
{
    Q_OBJECT

public:
    SseTestClient(QUrl base, QByteArray path, QList<TestHeader> headers, QObject *parent = nullptr);
    ~SseTestClient() override;

    // Seq numbers and the tail only, read off the batch text without a JSON
    // parse (for tests that open a thousand streams under ASan).
    void setSeqOnly(bool seqOnly) { m_seqOnly = seqOnly; }
    void open();
    void close(); // the client goes away (abort)
    bool waitFor(const std::function<bool()> &condition, int timeoutMs = 15000);
    bool waitForHead(int timeoutMs = 15000)
    {
        return waitFor([this] { return m_headDone || m_closed; }, timeoutMs);
    }
    // Until `count` records have arrived (or the stream ended).
    bool waitForRecords(int count, int timeoutMs = 15000);
    bool waitForEnd(int timeoutMs = 15000)
    {
        return waitFor([this] { return m_ended || m_closed; }, timeoutMs);
    }

    int status() const { return m_status; }
    QByteArray header(QByteArrayView name) const;
    const QList<SseTestEvent> &events() const { return m_events; }
    const QList<SseTestRecord> &records() const { return m_records; }
    // Dechunked body bytes so far.
    const QByteArray &body() const { return m_body; }
    std::optional<qint64> lastTailSeq() const { return m_tailSeq; }
    bool ended() const { return m_ended; }   // the zero chunk arrived
    bool closed() const { return m_closed; } // the connection is gone
    bool sawDone() const;
    QStringList errors() const { return m_errors; }

Q_SIGNALS:
    void recordsArrived();

private:
    void onReadyRead();
    void parseEvents();
    void handleEvent(const SseTestEvent &event);

    QUrl m_base;
    QByteArray m_path;
    QList<TestHeader> m_headers;
    QTcpSocket m_socket;
    QByteArray m_raw;       // undecoded bytes
    QByteArray m_body;      // dechunked
    qsizetype m_parsed = 0; // bytes of m_body already split into events
    bool m_seqOnly = false;
    bool m_headDone = false;
    bool m_chunked = false;
    bool m_ended = false;
    bool m_closed = false;
    int m_status = 0;
    QList<TestHeader> m_responseHeaders;
    QList<SseTestEvent> m_events;
    QList<SseTestRecord> m_records;
    std::optional<qint64> m_tailSeq;
    QStringList m_errors;
};

} // namespace sessionscope::test
