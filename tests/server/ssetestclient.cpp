#include "ssetestclient.h"

#include <QTest>

namespace sessionscope::test {

SseTestClient::SseTestClient(QUrl base, QByteArray path, QList<TestHeader> headers, QObject *parent)
    : QObject(parent), m_base(std::move(base)), m_path(std::move(path)),
      m_headers(std::move(headers))
{
    connect(&m_socket, &QTcpSocket::readyRead, this, &SseTestClient::onReadyRead);
    connect(&m_socket, &QTcpSocket::disconnected, this, [this] {
        onReadyRead();
        m_closed = true;
    });
    connect(&m_socket, &QTcpSocket::errorOccurred, this, [this] { m_closed = true; });
}

SseTestClient::~SseTestClient()
{
    m_socket.disconnect(this);
    m_socket.abort();
}

void SseTestClient::open()
{
    QByteArray request = "GET " + m_path + " HTTP/1.1\r\nHost: " + m_base.host().toUtf8() + ':' +
                         QByteArray::number(m_base.port()) + "\r\nAccept: text/event-stream\r\n";
    for (const auto &h : m_headers)
        request += h.first + ": " + h.second + "\r\n";
    request += "\r\n";
    m_socket.connectToHost(m_base.host(), quint16(m_base.port()));
    m_socket.write(request);
}

void SseTestClient::close()
{
    m_socket.disconnect(this);
    m_socket.abort();
    m_closed = true;
}

bool SseTestClient::waitFor(const std::function<bool()> &condition, int timeoutMs)
{
    return HttpTestClient::spinUntil(condition, timeoutMs);
}

bool SseTestClient::waitForRecords(int count, int timeoutMs)
{
    return waitFor([&] { return m_records.size() >= count || m_ended || m_closed; }, timeoutMs) &&
           m_records.size() >= count;
}

QByteArray SseTestClient::header(QByteArrayView name) const
{
    for (const auto &h : m_responseHeaders) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

bool SseTestClient::sawDone() const
{
    for (const auto &e : m_events) {
        if (e.event.isEmpty() && e.data == "[DONE]")
            return true;
    }
    return false;
}

void SseTestClient::onReadyRead()
{
    if (!m_socket.isOpen())
        return;
    m_raw += m_socket.readAll();
    if (!m_headDone) {
        const qsizetype end = m_raw.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        const QList<QByteArray> lines = m_raw.left(end).split('\n');
        m_status = lines.first().split(' ').value(1).toInt();
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines.at(i).trimmed();
            const qsizetype colon = line.indexOf(':');
            if (colon > 0)
                m_responseHeaders.append(
                    {line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
        }
        m_chunked = header("transfer-encoding").contains("chunked");
        m_raw = m_raw.mid(end + 4);
        m_headDone = true;
    }
    if (m_chunked) {
        qsizetype consumed = 0;
        QByteArray decoded;
        if (HttpTestClient::dechunk(m_raw, decoded, &consumed))
            m_ended = true;
        m_body += decoded;
        m_raw = m_raw.mid(consumed);
    } else {
        m_body += m_raw;
        m_raw.clear();
    }
    parseEvents();
}

void SseTestClient::parseEvents()
{
    while (true) {
        const qsizetype end = m_body.indexOf("\n\n", m_parsed);
        if (end < 0)
            return;
        const QByteArray block = m_body.mid(m_parsed, end - m_parsed);
        m_parsed = end + 2;
        SseTestEvent event;
        bool any = false;
        for (const QByteArray &line : block.split('\n')) {
            if (line.isEmpty() || line.startsWith(':'))
                continue;
            const qsizetype colon = line.indexOf(':');
            const QByteArray field = colon < 0 ? line : line.left(colon);
            QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
            if (value.startsWith(' '))
                value = value.mid(1);
            if (field == "event")
                event.event = value;
            else if (field == "data")
                event.data = event.data.isEmpty() ? value : event.data + '\n' + value;
            else if (field == "id")
                event.id = value;
            any = true;
        }
        if (any)
            handleEvent(event);
    }
}

void SseTestClient::handleEvent(const SseTestEvent &event)
{
    m_events.append(event);
    if (event.event != "batch" && event.event != "ping")
        return;
    if (m_seqOnly) {
        // A record object starts with {"seq_num": right after '[' or ','; the
        // tail's follows "tail":. Quotes inside bodies are escaped, so these
        // patterns cannot occur inside a body string.
        static const QByteArray key = "{\"seq_num\":";
        for (qsizetype at = event.data.indexOf(key); at >= 0;
             at = event.data.indexOf(key, at + 1)) {
            const qint64 seq = event.data.mid(at + key.size(), 20)
                                   .split(',')
                                   .first()
                                   .split('}')
                                   .first()
                                   .toLongLong();
            const char before = at > 0 ? event.data.at(at - 1) : ' ';
            if (before == '[' || before == ',') {
                SseTestRecord rec;
                rec.seq = seq;
                m_records.append(rec);
            } else if (before == ':') {
                m_tailSeq = seq;
            }
        }
        Q_EMIT recordsArrived();
        return;
    }
    const auto json = TestJson::parse(event.data.begin(), event.data.end(), nullptr, false);
    if (!json.is_object()) {
        m_errors << QStringLiteral("unparsable %1 data").arg(QString::fromUtf8(event.event));
        return;
    }
    if (json.contains("tail") && json["tail"].contains("seq_num"))
        m_tailSeq = json["tail"]["seq_num"].get<qint64>();
    if (event.event != "batch")
        return;
    if (!json.contains("records") || !json["records"].is_array()) {
        m_errors << QStringLiteral("batch without records");
        return;
    }
    for (const auto &r : json["records"]) {
        SseTestRecord rec;
        rec.seq = r.value("seq_num", qint64(-1));
        rec.timestamp = r.value("timestamp", qint64(0));
        const std::string body = r.value("body", std::string());
        rec.body = QByteArray(body.data(), qsizetype(body.size()));
        if (r.contains("headers")) {
            for (const auto &h : r["headers"]) {
                const std::string n = h[0].get<std::string>();
                const std::string v = h[1].get<std::string>();
                rec.headers.append({QByteArray(n.data(), qsizetype(n.size())),
                                    QByteArray(v.data(), qsizetype(v.size()))});
            }
        }
        m_records.append(rec);
    }
    Q_EMIT recordsArrived();
}

} // namespace sessionscope::test
