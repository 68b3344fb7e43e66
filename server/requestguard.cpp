#include "server/requestguard.h"

#include "server/wirejson.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

namespace sessionscope {

namespace {

constexpr qsizetype MaxChunkLineBytes = 4096;

// A request head ends with an empty line (CRLF CRLF; Qt's parser also takes
// bare LFs). Searched from `from` on, so each byte is looked at about once.
qsizetype headEnd(const QByteArray &head, qsizetype from)
{
    for (qsizetype i = qMax<qsizetype>(from, 1); i < head.size(); ++i) {
        if (head.at(i) != '\n')
            continue;
        if (head.at(i - 1) == '\n')
            return i + 1;
        if (i >= 2 && head.at(i - 1) == '\r' && head.at(i - 2) == '\n')
            return i + 1;
    }
    return -1;
}

// Whether the request line in `head` names an append route.
bool isAppend(const QByteArray &head)
{
    const qsizetype lineEnd = head.indexOf('\n');
    const QByteArray line = lineEnd < 0 ? head : head.left(lineEnd);
    const QList<QByteArray> parts = line.split(' ');
    return parts.size() > 1 && parts.at(1).split('?').first().endsWith("/append");
}

} // namespace

RequestGuard::RequestGuard(std::function<bool(QTcpSocket *)> busy, QObject *parent)
    : QObject(parent), m_busy(std::move(busy))
{
}

RequestGuard::~RequestGuard() = default;

void RequestGuard::watch(QTcpServer *server)
{
    // pendingConnectionAvailable comes before newConnection, and this
    // connection is made before Qt's: the socket is adopted while it still
    // waits in the server's queue, before Qt connects its own reader.
    connect(server, &QTcpServer::pendingConnectionAvailable, this,
            [this, server] { adoptPending(server); });
    connect(server, &QTcpServer::newConnection, this, [this, server] { adoptPending(server); });
}

void RequestGuard::adoptPending(QTcpServer *server)
{
    const auto sockets = server->findChildren<QTcpSocket *>(Qt::FindDirectChildrenOnly);
    for (QTcpSocket *socket : sockets) {
        if (m_framing.contains(socket))
            continue;
        m_framing.insert(socket, Framing{});
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
        connect(socket, &QObject::destroyed, this, [this, socket] { m_framing.remove(socket); });
    }
}

void RequestGuard::onReadyRead(QTcpSocket *socket)
{
    auto it = m_framing.find(socket);
    if (it == m_framing.end())
        return;
    if (it->phase == Framing::Phase::Refused) {
        socket->readAll(); // drained, never parsed
        return;
    }
    // Qt's reader runs next and takes everything available.
    const QByteArray data = socket->peek(socket->bytesAvailable());
    consume(socket, *it, data);
}

bool RequestGuard::consume(QTcpSocket *socket, Framing &f, QByteArrayView data)
{
    qsizetype pos = 0;
    while (pos < data.size()) {
        switch (f.phase) {
        case Framing::Phase::Head: {
            if (f.head.isEmpty()) {
                // Line ends left over from the previous request are skipped, as Qt does.
                while (pos < data.size() && (data.at(pos) == '\r' || data.at(pos) == '\n'))
                    ++pos;
                if (pos == data.size())
                    return true;
            }
            const qsizetype before = f.head.size();
            const qsizetype room = MaxHeaderBytes + 1 - before;
            const qsizetype take = qMin<qsizetype>(room, data.size() - pos);
            f.head.append(data.sliced(pos, take));
            const qsizetype end = headEnd(f.head, before - 2);
            if (end < 0) {
                if (f.head.size() > MaxHeaderBytes) {
                    refuse(socket, f, 431, "Request Header Fields Too Large",
                           "Request header fields too large", isAppend(f.head));
                    return false;
                }
                pos += take;
                break;
            }
            pos += end - before;
            f.head.truncate(end);
            if (!headComplete(socket, f))
                return false;
            break;
        }
        case Framing::Phase::Body: {
            const qsizetype n = qsizetype(qMin<qint64>(f.bodyLeft, data.size() - pos));
            f.bodyLeft -= n;
            pos += n;
            if (f.bodyLeft == 0)
                f.phase = Framing::Phase::Head;
            break;
        }
        case Framing::Phase::Chunked: {
            int status = 0;
            pos += consumeChunked(f, data.sliced(pos), &status);
            if (status == 413) {
                refuse(socket, f, 413, "Payload Too Large", "Request body too large", f.append);
                return false;
            }
            if (status != 0) {
                refuse(socket, f, 400, "Bad Request", "Malformed chunked request body", f.append);
                return false;
            }
            break;
        }
        case Framing::Phase::Refused:
            return false;
        }
    }
    return true;
}

bool RequestGuard::headComplete(QTcpSocket *socket, Framing &f)
{
    const QList<QByteArray> lines = f.head.split('\n');
    qint64 contentLength = 0;
    bool chunked = false;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray name = line.left(colon).trimmed().toLower();
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name == "content-length") {
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (ok && n > 0)
                contentLength = n;
        } else if (name == "transfer-encoding" && value.toLower().contains("chunked")) {
            chunked = true;
        }
    }
    f.append = isAppend(f.head);
    f.head.clear();
    f.bodyBytes = 0;
    f.lastChunk = false;
    f.chunkLine.clear();
    f.chunkLeft = 0;
    if (chunked) {
        f.phase = Framing::Phase::Chunked;
        return true;
    }
    if (contentLength > MaxBodyBytes) {
        // Refused on the declaration, before the body is sent.
        refuse(socket, f, 413, "Payload Too Large", "Request body too large", f.append);
        return false;
    }
    f.bodyLeft = contentLength;
    f.phase = contentLength > 0 ? Framing::Phase::Body : Framing::Phase::Head;
    return true;
}

qsizetype RequestGuard::consumeChunked(Framing &f, QByteArrayView data, int *status)
{
    qsizetype pos = 0;
    while (pos < data.size()) {
        if (f.chunkLeft > 0) {
            const qsizetype n = qsizetype(qMin<qint64>(f.chunkLeft, data.size() - pos));
            f.chunkLeft -= n;
            pos += n;
            continue;
        }
        // A chunk-size line, or after the last chunk a trailer line.
        const qsizetype newline = data.indexOf('\n', pos);
        const qsizetype end = newline < 0 ? data.size() : newline + 1;
        f.chunkLine.append(data.sliced(pos, end - pos));
        pos = end;
        if (f.chunkLine.size() > MaxChunkLineBytes) {
            *status = 400;
            return pos;
        }
        if (newline < 0)
            return pos;
        const QByteArray line = f.chunkLine.trimmed();
        f.chunkLine.clear();
        if (f.lastChunk) {
            if (line.isEmpty()) {
                f.phase = Framing::Phase::Head;
                return pos;
            }
            continue;
        }
        bool ok = false;
        const qint64 size = line.split(';').first().trimmed().toLongLong(&ok, 16);
        if (!ok || size < 0) {
            *status = 400;
            return pos;
        }
        if (size == 0) {
            f.lastChunk = true;
            continue;
        }
        if (size > MaxBodyBytes - f.bodyBytes) {
            *status = 413;
            return pos;
        }
        f.bodyBytes += size;
        f.chunkLeft = size + 2; // the data and its CRLF
    }
    return pos;
}

void RequestGuard::refuse(QTcpSocket *socket, Framing &f, int status, const QByteArray &reason,
                          const QByteArray &message, bool append)
{
    f.phase = Framing::Phase::Refused;
    f.head.clear();
    socket->readAll(); // Qt's reader, next in line, finds nothing to parse
    // While it drains, the socket takes little from the kernel at a time, so
    // a sender that keeps going is held back by TCP rather than by our RAM.
    // (Not for live connections: Qt 6.4's reader stalls on a bounded buffer.)
    socket->setReadBufferSize(DrainBufferBytes);
    if (m_busy && m_busy(socket)) {
        // An earlier response is still being written: no room for this one.
        socket->abort();
        return;
    }
    Json body = Json::object();
    // Appends answer {ok: false, error}, as their route would.
    if (append)
        body["ok"] = false;
    body["error"] = message.toStdString();
    const QByteArray text = wirejson::dump(body);
    socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason +
                  "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                  QByteArray::number(text.size()) +
                  "\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n"
                  "x-sessionscope-version: " SESSIONSCOPE_VERSION "\r\n" +
                  (m_extraHeader.isEmpty() ? QByteArray() : m_extraHeader + "\r\n") + "\r\n" + text);
    // Drained for a while, so the client reads the answer rather than a reset.
    QPointer<QTcpSocket> guarded(socket);
    QTimer::singleShot(LingerMs, this, [guarded] {
        if (guarded)
            guarded->disconnectFromHost();
    });
}

} // namespace sessionscope
