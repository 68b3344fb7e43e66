#include "server/edgerelay.h"

#include "server/httpexchange.h"

#include "server/wirejson.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTcpSocket>

namespace sessionscope {

namespace {

// Hop-by-hop: they describe one connection, not the message (RFC 9110 7.6.1).
bool isHopByHop(const QByteArray &name, const QList<QByteArray> &listedInConnection)
{
    static const QList<QByteArray> always{"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                          "te", "trailer", "upgrade"};
    const QByteArray lower = name.toLower();
    return always.contains(lower) || listedInConnection.contains(lower);
}

// The upstream failed as a connection, not with an HTTP status of its own.
bool isTransportError(QNetworkReply::NetworkError error)
{
    return (error > QNetworkReply::NoError && error < QNetworkReply::ContentAccessDenied) ||
           error == QNetworkReply::ProtocolUnknownError || error == QNetworkReply::ProtocolFailure;
}

QByteArray reasonFor(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    default: return {};
    }
}

} // namespace

EdgeRelay::EdgeRelay(QTcpSocket *client, QByteArray method, bool closeAfter, QObject *parent)
    : QObject(parent), m_client(client), m_method(std::move(method)), m_closeAfter(closeAfter)
{
    m_headTimer.setSingleShot(true);
    connect(&m_headTimer, &QTimer::timeout, this, [this] {
        if (m_headWritten || !m_reply)
            return;
        m_timedOut = true;
        m_reply->abort(); // finished follows, and with it the 504
    });
    if (client) {
        connect(client, &QTcpSocket::disconnected, this, &EdgeRelay::cancel);
        connect(client, &QTcpSocket::bytesWritten, this, [this] {
            if (m_client && m_client->bytesToWrite() < HighWaterBytes / 2)
                pump();
        });
    }
}

EdgeRelay::~EdgeRelay()
{
    detachReply();
}

void EdgeRelay::relay(QNetworkAccessManager &manager, const QNetworkRequest &request, const QByteArray &body)
{
    // get/head/deleteResource where they fit: Qt must know a HEAD answer has no
    // body, and its post() would invent a Content-Type the client did not send.
    QNetworkReply *reply = nullptr;
    if (m_method == "HEAD")
        reply = manager.head(request);
    else if (m_method == "GET" && body.isEmpty())
        reply = manager.get(request);
    else if (m_method == "DELETE" && body.isEmpty())
        reply = manager.deleteResource(request);
    else
        reply = manager.sendCustomRequest(request, m_method, body);
    m_reply = reply;
    connect(reply, &QNetworkReply::metaDataChanged, this, &EdgeRelay::writeHead);
    connect(reply, &QNetworkReply::readyRead, this, &EdgeRelay::pump);
    connect(reply, &QNetworkReply::finished, this, &EdgeRelay::onUpstreamFinished);
    if (m_headTimeoutMs > 0)
        m_headTimer.start(m_headTimeoutMs);
}

void EdgeRelay::respond(int status, const QByteArray &reason, const QList<Header> &headers, const QByteArray &body)
{
    if (m_finished || m_headWritten)
        return;
    m_headWritten = true;
    if (m_client && m_client->state() == QAbstractSocket::ConnectedState) {
        QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n";
        for (const Header &h : headers)
            out += h.first + ": " + h.second + "\r\n";
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        if (m_closeAfter)
            out += "Connection: close\r\n";
        out += "\r\n";
        if (m_method != "HEAD")
            out += body;
        m_client->write(out);
    }
    finish();
}

void EdgeRelay::respondError(int status, const QString &message, bool append)
{
    Json body = Json::object();
    if (append)
        body["ok"] = false;
    body["error"] = message.toStdString();
    QList<Header> headers{{"Content-Type", "application/json; charset=utf-8"}};
    if (m_filter)
        m_filter(headers);
    respond(status, reasonFor(status), headers, wirejson::dump(body));
}

void EdgeRelay::writeHead()
{
    if (m_headWritten || !m_reply)
        return;
    const QVariant statusAttribute = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (!statusAttribute.isValid())
        return; // no HTTP answer yet
    const int status = statusAttribute.toInt();
    m_headWritten = true;
    m_headTimer.stop();

    const QList<Header> upstream = m_reply->rawHeaderPairs();
    QList<QByteArray> listed;
    bool hasLength = false;
    for (const Header &h : upstream) {
        if (h.first.compare("connection", Qt::CaseInsensitive) == 0) {
            for (const QByteArray &token : h.second.split(','))
                listed << token.trimmed().toLower();
        }
    }
    QList<Header> headers;
    for (const Header &h : upstream) {
        if (isHopByHop(h.first, listed))
            continue;
        if (h.first.compare("content-length", Qt::CaseInsensitive) == 0)
            hasLength = true;
        // Qt folds repeated headers into one value; cookies it joins with '\n'.
        if (h.first.compare("set-cookie", Qt::CaseInsensitive) == 0) {
            for (const QByteArray &cookie : h.second.split('\n'))
                headers.append({h.first, cookie});
        } else {
            headers.append(h);
        }
    }
    m_noBody = m_method == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200);
    m_chunked = !m_noBody && !hasLength;
    if (!m_noBody && hasLength)
        m_expectedLength = m_reply->header(QNetworkRequest::ContentLengthHeader).toLongLong();
    if (m_filter)
        m_filter(headers);

    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' +
                     m_reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray() + "\r\n";
    for (const Header &h : std::as_const(headers))
        out += h.first + ": " + h.second + "\r\n";
    if (m_chunked)
        out += "Transfer-Encoding: chunked\r\n";
    if (m_closeAfter)
        out += "Connection: close\r\n";
    out += "\r\n";
    if (m_client)
        m_client->write(out);
}

void EdgeRelay::pump()
{
    if (m_finished || !m_reply)
        return;
    writeHead();
    if (!m_headWritten)
        return;
    while (m_reply->bytesAvailable() > 0 && m_client && m_client->bytesToWrite() < HighWaterBytes) {
        const QByteArray data = m_reply->read(qMin<qint64>(m_reply->bytesAvailable(), ReadBufferBytes));
        if (data.isEmpty())
            break;
        if (!m_noBody)
            writeBody(data);
    }
    if (!m_client) {
        cancel();
        return;
    }
    // A client that does not keep up holds the upstream back through Qt's read
    // buffer. Only while it is behind: Qt 6.4 reports an upstream that drops a
    // chunked response as a clean end when a read buffer size is set.
    const bool behind = m_client->bytesToWrite() >= HighWaterBytes;
    if (behind != m_throttled) {
        m_throttled = behind;
        m_reply->setReadBufferSize(behind ? ReadBufferBytes : 0);
    }
    if (m_upstreamDone && m_reply->bytesAvailable() == 0) {
        if (m_expectedLength >= 0 && m_bodyBytes < m_expectedLength)
            m_upstreamFailed = true;
        complete();
    }
}

void EdgeRelay::onUpstreamFinished()
{
    if (m_finished || !m_reply)
        return;
    m_upstreamDone = true;
    m_headTimer.stop();
    const QNetworkReply::NetworkError error = m_reply->error();
    if (!m_headWritten) {
        writeHead();
        if (!m_headWritten) {
            const QString why = m_reply->errorString();
            detachReply();
            if (m_timedOut)
                respondError(504, QStringLiteral("Gateway timeout: the upstream did not answer in time"), false);
            else
                respondError(502, QStringLiteral("Bad gateway: the upstream could not be reached (%1)").arg(why),
                             false);
            return;
        }
    }
    // Cut mid-body: what arrived is still delivered, then the client's
    // connection closes without the end of the response.
    m_upstreamFailed = isTransportError(error);
    pump();
}

void EdgeRelay::writeBody(QByteArrayView data)
{
    if (!m_client || data.isEmpty())
        return;
    m_bodyBytes += data.size();
    if (!m_chunked) {
        m_client->write(data.data(), data.size());
        return;
    }
    m_client->write(HttpExchange::chunkFrame(data));
}

void EdgeRelay::complete()
{
    if (m_finished)
        return;
    detachReply();
    if (m_upstreamFailed) {
        if (m_client)
            m_client->disconnectFromHost();
    } else if (m_chunked && m_client) {
        m_client->write("0\r\n\r\n", 5);
    }
    finish();
}

void EdgeRelay::cancel()
{
    if (m_finished)
        return;
    detachReply();
    finish();
}

void EdgeRelay::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_headTimer.stop();
    if (m_closeAfter && m_client)
        m_client->disconnectFromHost();
    Q_EMIT finished();
}

void EdgeRelay::detachReply()
{
    if (!m_reply)
        return;
    QNetworkReply *reply = m_reply;
    m_reply = nullptr;
    disconnect(reply, nullptr, this, nullptr);
    if (!reply->isFinished())
        reply->abort();
    reply->deleteLater();
}

} // namespace sessionscope
