#include "server/httpexchange.h"

#include <QUrl>

namespace sessionscope {

namespace {

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
    return m_socket ? m_socket->bytesToWrite() : 0;
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
    if (m_body.isEmpty()) {
        respondError(400, QStringLiteral("Request body is empty"));
        return std::nullopt;
    }
    auto parsed = wirejson::parse(m_body);
    // JSON that parses to a falsy value is refused like unparsable text.
    if (!parsed || parsed->is_null() || *parsed == false || *parsed == 0 || *parsed == "") {
        respondError(400, QStringLiteral("Invalid JSON"));
        return std::nullopt;
    }
    return parsed;
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
}

void HttpExchange::writeChunk(QByteArrayView data)
{
    if (m_finished || data.isEmpty() || !isConnected())
        return;
    m_socket->write(chunkFrame(data));
}

QByteArray HttpExchange::chunkFrame(QByteArrayView data)
{
    QByteArray frame;
    frame.reserve(data.size() + 12);
    frame.append(QByteArray::number(data.size(), 16));
    frame.append("\r\n");
    frame.append(data);
    frame.append("\r\n");
    return frame;
}

void HttpExchange::endStream()
{
    if (m_finished)
        return;
    if (isConnected())
        m_socket->write("0\r\n\r\n", 5);
    finish();
}

void HttpExchange::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    if (m_closeAfter && m_socket)
        m_socket->disconnectFromHost();
    if (m_onFinished) {
        auto handler = std::move(m_onFinished);
        m_onFinished = nullptr;
        handler();
    }
}

} // namespace sessionscope
