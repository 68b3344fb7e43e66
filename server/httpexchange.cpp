#include "server/httpexchange.h"

#include "server/chaosinjector.h"
#include "server/chaosssewriter.h"

#include <QUrl>

#include <algorithm>

#ifdef Q_OS_LINUX
#include <sys/socket.h>
#include <sys/uio.h>
#endif

namespace sessionscope {

namespace {

// Chunked transfer coding: hex size and CRLF, the data, CRLF.
constexpr QByteArrayView kChunkTail("\r\n");

QByteArray chunkHead(qsizetype size)
{
    return QByteArray::number(size, 16) + "\r\n";
}

// The frame of `parts` under `head`, less its first `skip` bytes (what the
// kernel already took): one place that lays a chunk out in memory.
QByteArray chunkFrameOf(QByteArrayView head, std::initializer_list<QByteArrayView> parts, qsizetype skip)
{
    qsizetype total = head.size() + kChunkTail.size();
    for (QByteArrayView part : parts)
        total += part.size();
    QByteArray frame;
    frame.reserve(qMax<qsizetype>(0, total - skip));
    auto keep = [&](QByteArrayView piece) {
        if (skip >= piece.size()) {
            skip -= piece.size();
            return;
        }
        frame.append(piece.sliced(skip));
        skip = 0;
    };
    keep(head);
    for (QByteArrayView part : parts)
        keep(part);
    keep(kChunkTail);
    return frame;
}

QString decodeComponent(QByteArrayView encoded, bool plusIsSpace)
{
    QByteArray bytes = encoded.toByteArray();
    if (plusIsSpace)
        bytes.replace('+', ' ');
    return QString::fromUtf8(QByteArray::fromPercentEncoding(bytes));
}

} // namespace

HttpExchange::HttpExchange(const QHttpServerRequest &request, QTcpSocket *socket,
                           QHttpServerResponder &&responder)
    : m_method(request.method()), m_socket(socket), m_responder(std::move(responder))
{
    const QUrl url = request.url();
    m_encodedPath = url.path(QUrl::FullyEncoded).toUtf8();
    // "/a/b/" names the same resource as "/a/b", but an empty segment in the
    // middle ("/sessions//close") stays empty so it matches no route.
    QList<QByteArray> parts = m_encodedPath.split('/');
    if (!parts.isEmpty() && parts.first().isEmpty())
        parts.removeFirst();
    if (!parts.isEmpty() && parts.last().isEmpty())
        parts.removeLast();
    for (const QByteArray &part : parts)
        m_segments << decodeComponent(part, false);
    const QByteArray query = url.query(QUrl::FullyEncoded).toUtf8();
    if (!query.isEmpty()) {
        for (const QByteArray &pair : query.split('&')) {
            if (pair.isEmpty())
                continue;
            const qsizetype eq = pair.indexOf('=');
            const QByteArrayView key =
                eq < 0 ? QByteArrayView(pair) : QByteArrayView(pair).first(eq);
            const QByteArrayView value =
                eq < 0 ? QByteArrayView() : QByteArrayView(pair).sliced(eq + 1);
            m_query.append({decodeComponent(key, true), decodeComponent(value, true)});
        }
    }
    m_headers = request.headers();
    m_body = request.body();
    switch (m_method) {
    case QHttpServerRequest::Method::Get:
        m_methodName = "GET";
        break;
    case QHttpServerRequest::Method::Put:
        m_methodName = "PUT";
        break;
    case QHttpServerRequest::Method::Delete:
        m_methodName = "DELETE";
        break;
    case QHttpServerRequest::Method::Post:
        m_methodName = "POST";
        break;
    case QHttpServerRequest::Method::Head:
        m_methodName = "HEAD";
        break;
    case QHttpServerRequest::Method::Options:
        m_methodName = "OPTIONS";
        break;
    case QHttpServerRequest::Method::Patch:
        m_methodName = "PATCH";
        break;
    default:
        m_methodName = "UNKNOWN";
        break;
    }
    m_closeAfter = header("connection").toLower().contains("close");
}

HttpExchange::~HttpExchange()
{
    // A handler that dropped its exchange without answering is a bug; the
    // client still gets an answer instead of a hung connection.
    if (!m_answered)
        respondError(500, QStringLiteral("Internal Server Error"));
    else if (!m_finished)
        endStream();
}

QByteArray HttpExchange::methodName() const
{
    return m_methodName;
}

QByteArray HttpExchange::header(QByteArrayView name) const
{
    for (const auto &h : m_headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

bool HttpExchange::hasHeader(QByteArrayView name) const
{
    for (const auto &h : m_headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

std::optional<QString> HttpExchange::query(QStringView key) const
{
    // URLSearchParams -> Object.fromEntries keeps the last value of a repeated key.
    std::optional<QString> out;
    for (const auto &item : m_query) {
        if (item.first == key)
            out = item.second;
    }
    return out;
}

QStringList HttpExchange::queryAll(QStringView key) const
{
    QStringList out;
    for (const auto &item : m_query) {
        if (item.first == key)
            out << item.second;
    }
    return out;
}

void HttpExchange::addResponseHeader(const QByteArray &name, const QByteArray &value)
{
    m_extraHeaders.append({name, value});
}

bool HttpExchange::isConnected() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
}

qint64 HttpExchange::bytesToWrite() const
{
    return (m_socket ? m_socket->bytesToWrite() : 0) + (m_chaosWriter ? m_chaosWriter->pendingBytes() : 0);
}

void HttpExchange::writeHead(int status, const QList<Header> &headers,
                             std::optional<qint64> contentLength)
{
    m_responder.writeStatusLine(QHttpServerResponder::StatusCode(status));
    for (const auto &h : headers)
        m_responder.writeHeader(h.first, h.second);
    for (const auto &h : m_extraHeaders)
        m_responder.writeHeader(h.first, h.second);
    m_responder.writeHeader(QByteArrayLiteral("x-sessionscope-version"),
                            QByteArrayLiteral(SESSIONSCOPE_VERSION));
    if (m_chaos)
        m_responder.writeHeader(QByteArrayLiteral("X-Sessionscope-Chaos"), m_chaos->headerValue());
    if (contentLength)
        m_responder.writeHeader(QByteArrayLiteral("Content-Length"),
                                QByteArray::number(*contentLength));
    if (m_closeAfter)
        m_responder.writeHeader(QByteArrayLiteral("Connection"), QByteArrayLiteral("close"));
}

void HttpExchange::respond(int status, const QByteArray &body, const QByteArray &contentType,
                           const QList<Header> &headers)
{
    if (m_answered)
        return;
    m_answered = true;
    if (isConnected()) {
        QList<Header> all;
        all.reserve(headers.size() + 1);
        if (!contentType.isEmpty())
            all.append({QByteArrayLiteral("Content-Type"), contentType});
        all.append(headers);
        writeHead(status, all, body.size());
        // HEAD gets the headers of the GET, never a body.
        m_responder.writeBody(m_method == QHttpServerRequest::Method::Head ? QByteArray() : body);
    }
    finish();
}

void HttpExchange::respondJson(int status, const Json &body, const QList<Header> &headers)
{
    respond(status, wirejson::dump(body), QByteArrayLiteral("application/json; charset=utf-8"),
            headers);
}

void HttpExchange::respondError(int status, const QString &message, const QList<Header> &headers)
{
    Json body = Json::object();
    body["error"] = message.toStdString();
    respondJson(status, body, headers);
}

void HttpExchange::respondEmpty(int status, const QList<Header> &headers)
{
    respond(status, QByteArray(), QByteArray(), headers);
}

void HttpExchange::respondDetailedError(const QString &error, const QString &message,
                                        const QString &path)
{
    Json detail = Json::object();
    detail["message"] = message.toStdString();
    if (!path.isEmpty())
        detail["path"] = Json::array({path.toStdString()});
    Json body = Json::object();
    body["error"] = error.toStdString();
    body["details"] = Json::array({detail});
    respondJson(400, body);
}

void HttpExchange::respondForbidden()
{
    Json body = Json::object();
    body["error"] = "Unauthorized";
    body["code"] = "unauthorized";
    body["param"] = "access_token";
    body["type"] = "authorization";
    respondJson(403, body);
}

bool HttpExchange::bodyTooLarge(qint64 maxBytes) const
{
    bool ok = false;
    const qint64 declared = header("content-length").trimmed().toLongLong(&ok);
    return (ok && declared > maxBytes) || m_body.size() > maxBytes;
}

std::optional<Json> HttpExchange::readJsonBody(qint64 maxBytes)
{
    if (bodyTooLarge(maxBytes)) {
        respondError(413, QStringLiteral("Request body too large"));
        return std::nullopt;
    }
    auto parsed = parseJsonBody(m_body);
    if (!parsed) {
        respondError(parsed.error().httpStatus, parsed.error().message);
        return std::nullopt;
    }
    return std::move(*parsed);
}

Result<Json> HttpExchange::parseJsonBody(QByteArrayView body)
{
    auto badRequest = [](const QString &message) {
        Error e = Error::make(message);
        e.httpStatus = 400;
        return e;
    };
    if (body.isEmpty())
        return badRequest(QStringLiteral("Request body is empty"));
    auto parsed = wirejson::parse(body);
    // JSON that parses to a falsy value is refused like unparsable text.
    if (!parsed || parsed->is_null() || *parsed == false || *parsed == 0 || *parsed == "")
        return badRequest(QStringLiteral("Invalid JSON"));
    return std::move(*parsed);
}

void HttpExchange::beginStream(int status, const QList<Header> &headers)
{
    if (m_answered)
        return;
    m_answered = true;
    if (!isConnected())
        return;
    QList<Header> all = headers;
    all.append({QByteArrayLiteral("Transfer-Encoding"), QByteArrayLiteral("chunked")});
    writeHead(status, all, std::nullopt);
    m_responder.writeBody(QByteArray());
    const auto eventStream = [&headers] {
        return std::any_of(headers.cbegin(), headers.cend(), [](const Header &h) {
            return h.first.compare("content-type", Qt::CaseInsensitive) == 0 &&
                   h.second.startsWith("text/event-stream");
        });
    };
    if (m_chaos && eventStream())
        m_chaosWriter = new ChaosSseWriter(m_chaos, m_socket);
}

void HttpExchange::writeChunk(QByteArrayView data)
{
    writeChunk({data});
}

void HttpExchange::writeChunk(std::initializer_list<QByteArrayView> parts)
{
    qsizetype size = 0;
    for (QByteArrayView part : parts)
        size += part.size();
    if (m_finished || size == 0 || !isConnected())
        return;
    const QByteArray head = chunkHead(size);
    if (m_chaosWriter) {
        m_chaosWriter->writeEvent(chunkFrameOf(head, parts, 0));
        return;
    }
    qsizetype sent = 0;
#ifdef Q_OS_LINUX
    // With nothing queued in Qt, the frame goes straight to the kernel in one
    // gathered send. QAbstractSocket::write would buffer it, arm a write
    // notifier and flush on the next event-loop pass: for a fan-out to a
    // thousand subscribers that notifier churn cost more than the writes.
    // Whatever the kernel does not take (or an error) goes the Qt way, which
    // keeps the order and reports the error through the socket's signals.
    const qintptr fd = m_socket->socketDescriptor();
    if (fd >= 0 && m_socket->bytesToWrite() == 0 && parts.size() <= 14) {
        iovec vec[16];
        int n = 0;
        vec[n++] = {const_cast<char *>(head.constData()), size_t(head.size())};
        for (QByteArrayView part : parts) {
            if (!part.isEmpty())
                vec[n++] = {const_cast<char *>(part.data()), size_t(part.size())};
        }
        vec[n++] = {const_cast<char *>(kChunkTail.data()), size_t(kChunkTail.size())};
        msghdr msg{};
        msg.msg_iov = vec;
        msg.msg_iovlen = size_t(n);
        const ssize_t written = ::sendmsg(int(fd), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (written > 0)
            sent = qsizetype(written);
    }
#endif
    if (sent == head.size() + size + kChunkTail.size())
        return;
    m_socket->write(chunkFrameOf(head, parts, sent));
}

QByteArray HttpExchange::chunkFrame(QByteArrayView data)
{
    return chunkFrameOf(chunkHead(data.size()), {data}, 0);
}

void HttpExchange::endStream()
{
    if (m_finished)
        return;
    if (isConnected() && m_chaosWriter)
        m_chaosWriter->writeRaw(QByteArrayLiteral("0\r\n\r\n"));
    else if (isConnected())
        m_socket->write("0\r\n\r\n", 5);
    finish();
}

void HttpExchange::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    if (m_closeAfter && m_chaosWriter)
        m_chaosWriter->disconnectWhenDrained();
    else if (m_closeAfter && m_socket)
        m_socket->disconnectFromHost();
    if (m_onFinished) {
        auto handler = std::move(m_onFinished);
        m_onFinished = nullptr;
        handler();
    }
}

} // namespace sessionscope
