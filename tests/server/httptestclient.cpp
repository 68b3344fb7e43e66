#include "httptestclient.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

namespace sessionscope::test {

QByteArray jsonString(const TestJson &object, const char *key)
{
    if (!object.is_object() || !object.contains(key) || !object[key].is_string())
        return {};
    return QByteArray::fromStdString(object[key].get<std::string>());
}

QByteArray HttpResponse::header(QByteArrayView name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

bool HttpResponse::hasHeader(QByteArrayView name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

TestJson HttpResponse::json() const
{
    return TestJson::parse(body.begin(), body.end(), nullptr, false);
}

HttpTestClient::HttpTestClient(QUrl base, QByteArray authorization)
    : m_base(std::move(base)), m_auth(std::move(authorization))
{
}

QByteArray HttpTestClient::requestBytes(const QByteArray &method, const QByteArray &path,
                                        const QByteArray &body,
                                        const QList<TestHeader> &headers) const
{
    QByteArray out = method + ' ' + path + " HTTP/1.1\r\nHost: " + m_base.host().toUtf8() + ':' +
                     QByteArray::number(m_base.port()) + "\r\n";
    bool hasAuth = false;
    bool hasLength = false;
    for (const auto &h : headers) {
        if (h.first.compare("authorization", Qt::CaseInsensitive) == 0)
            hasAuth = true;
        if (h.first.compare("content-length", Qt::CaseInsensitive) == 0 ||
            h.first.compare("transfer-encoding", Qt::CaseInsensitive) == 0)
            hasLength = true;
        out += h.first + ": " + h.second + "\r\n";
    }
    if (!hasAuth && !m_auth.isEmpty())
        out += "Authorization: Bearer " + m_auth + "\r\n";
    if (!hasLength && (!body.isEmpty() || method == "POST" || method == "PATCH" || method == "PUT"))
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

bool HttpTestClient::dechunk(QByteArray &encoded, QByteArray &decoded, qsizetype *consumed)
{
    qsizetype pos = 0;
    while (true) {
        const qsizetype lineEnd = encoded.indexOf("\r\n", pos);
        if (lineEnd < 0)
            break;
        bool ok = false;
        const qsizetype size =
            encoded.mid(pos, lineEnd - pos).split(';').first().trimmed().toLongLong(&ok, 16);
        if (!ok)
            break;
        if (size == 0) {
            if (encoded.size() < lineEnd + 4)
                break;
            *consumed = lineEnd + 4;
            return true;
        }
        if (encoded.size() < lineEnd + 2 + size + 2)
            break;
        decoded.append(encoded.mid(lineEnd + 2, size));
        pos = lineEnd + 2 + size + 2;
    }
    *consumed = pos;
    return false;
}

std::optional<HttpResponse> HttpTestClient::parseOne(QByteArray &buffer, bool eof, bool head)
{
    const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return std::nullopt;
    HttpResponse r;
    const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
    const QList<QByteArray> status = lines.first().trimmed().split(' ');
    r.status = status.size() > 1 ? status.at(1).toInt() : -1;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i).trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            r.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
    }
    QByteArray rest = buffer.mid(headEnd + 4);
    if (head || r.status == 204 || r.status == 304) {
        buffer = rest;
        return r;
    }
    if (r.header("transfer-encoding").toLower().contains("chunked")) {
        QByteArray decoded;
        qsizetype consumed = 0;
        if (!dechunk(rest, decoded, &consumed))
            return std::nullopt;
        r.body = decoded;
        buffer = rest.mid(consumed);
        return r;
    }
    if (r.hasHeader("content-length")) {
        const qsizetype length = r.header("content-length").toLongLong();
        if (rest.size() < length)
            return std::nullopt;
        r.body = rest.left(length);
        buffer = rest.mid(length);
        return r;
    }
    if (!eof)
        return std::nullopt;
    r.body = rest;
    buffer.clear();
    return r;
}

bool HttpTestClient::spinUntil(const std::function<bool()> &condition, int timeoutMs)
{
    if (condition())
        return true;
    QEventLoop loop;
    QElapsedTimer elapsed;
    elapsed.start();
    QTimer poll;
    poll.setInterval(1);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (condition() || elapsed.elapsed() >= timeoutMs)
            loop.quit();
    });
    poll.start();
    loop.exec();
    return condition();
}

QList<HttpResponse> HttpTestClient::raw(const QByteArray &raw, int count,
                                        const QList<bool> &headFlags, int timeoutMs) const
{
    QList<HttpResponse> out;
    QTcpSocket socket;
    socket.connectToHost(m_base.host(), quint16(m_base.port()));
    QByteArray buffer;
    bool eof = false;
    QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [&] { buffer += socket.readAll(); });
    QObject::connect(&socket, &QTcpSocket::disconnected, &socket, [&] {
        buffer += socket.readAll();
        eof = true;
    });
    if (!spinUntil([&] { return socket.state() == QAbstractSocket::ConnectedState; }, timeoutMs)) {
        HttpResponse failed;
        failed.error = QStringLiteral("connect failed: ") + socket.errorString();
        out << failed;
        return out;
    }
    socket.write(raw);
    spinUntil(
        [&] {
            while (out.size() < count) {
                const bool head = out.size() < headFlags.size() && headFlags.at(out.size());
                auto r = parseOne(buffer, eof, head);
                if (!r)
                    return eof;
                out << *r;
            }
            return true;
        },
        timeoutMs);
    socket.disconnect();
    while (out.size() < count) {
        HttpResponse missing;
        missing.error = eof ? QStringLiteral("connection closed") : QStringLiteral("timed out");
        out << missing;
    }
    socket.abort();
    return out;
}

HttpResponse HttpTestClient::request(const QByteArray &method, const QByteArray &path,
                                     const QByteArray &body, const QList<TestHeader> &headers,
                                     int timeoutMs) const
{
    return raw(requestBytes(method, path, body, headers), 1, {method == "HEAD"}, timeoutMs).first();
}

HttpResponse HttpTestClient::get(const QByteArray &path, const QList<TestHeader> &headers) const
{
    return request("GET", path, {}, headers);
}

HttpResponse HttpTestClient::post(const QByteArray &path, const QByteArray &body,
                                  const QList<TestHeader> &headers) const
{
    return request("POST", path, body, headers);
}

HttpResponse HttpTestClient::postJson(const QByteArray &path, const TestJson &body,
                                      const QList<TestHeader> &headers) const
{
    const std::string text = body.dump();
    QList<TestHeader> all = headers;
    all.append(TestHeader("Content-Type", "application/json"));
    return request("POST", path, QByteArray(text.data(), qsizetype(text.size())), all);
}

HttpResponse HttpTestClient::patchJson(const QByteArray &path, const TestJson &body,
                                       const QList<TestHeader> &headers) const
{
    const std::string text = body.dump();
    QList<TestHeader> all = headers;
    all.append(TestHeader("Content-Type", "application/json"));
    return request("PATCH", path, QByteArray(text.data(), qsizetype(text.size())), all);
}

} // namespace sessionscope::test
