#pragma once

#include <QByteArray>
#include <QHash>
#include <QObject>

#include <functional>

class QTcpServer;
class QTcpSocket;

namespace sessionscope {

// Bounds what one request may make the server hold before a route sees it.
// Qt HttpServer 6.4 buffers a request's whole header block and body with no
// limit (a 200 MiB header costs 400 MB of RAM) and garbles headers past a
// few hundred KiB, so this reads every connection's bytes just before Qt's
// parser does, follows the HTTP/1.1 framing (request head, Content-Length or
// chunked body, pipelining), and answers 431 for a head over MaxHeaderBytes
// and 413 for a body over MaxBodyBytes (at once, from Content-Length, before
// the body is sent). A refused connection is drained and closed; its bytes
// never reach Qt.
class RequestGuard : public QObject
{
    Q_OBJECT

public:
    static constexpr qint64 MaxHeaderBytes = 64 * 1024;
    // Above every route's own cap (1 MiB appends), so routes still answer
    // their own 413 up to here.
    static constexpr qint64 MaxBodyBytes = 2 * 1024 * 1024;
    // How long a refused connection is drained before it is closed, so the
    // client reads the answer instead of a reset.
    static constexpr int LingerMs = 2000;
    static constexpr qint64 DrainBufferBytes = 64 * 1024;

    // `busy` tells whether a response is still being written on a socket (a
    // refusal must not interleave with it: the connection is cut instead).
    explicit RequestGuard(std::function<bool(QTcpSocket *)> busy, QObject *parent = nullptr);
    ~RequestGuard() override;

    // Call before QAbstractHttpServer::bind(server): the guard's handlers must
    // be connected before Qt's so they see each chunk before it is parsed.
    void watch(QTcpServer *server);
    // One more "Name: value" line for the refusals it writes (chaos mode's header).
    void setExtraResponseHeader(const QByteArray &line) { m_extraHeader = line; }

private:
    struct Framing
    {
        enum class Phase : quint8 { Head, Body, Chunked, Refused };
        Phase phase = Phase::Head;
        QByteArray head;      // the current request's head so far (<= MaxHeaderBytes)
        qint64 bodyLeft = 0;  // Content-Length bytes still to come
        qint64 bodyBytes = 0; // chunked: bytes of the current body so far
        QByteArray chunkLine; // chunked: the size line being read
        qint64 chunkLeft = 0; // chunked: data (+ CRLF) bytes left of the current chunk
        bool lastChunk = false;
        bool append = false; // the current request goes to an append route
    };

    void adoptPending(QTcpServer *server);
    void onReadyRead(QTcpSocket *socket);
    // Runs `data` through the framing; false once the request is refused.
    bool consume(QTcpSocket *socket, Framing &f, QByteArrayView data);
    bool headComplete(QTcpSocket *socket, Framing &f);
    // Bytes of `data` taken by the chunked body; `*status` becomes 413 (too
    // large) or 400 (malformed framing) when the request must be refused.
    qsizetype consumeChunked(Framing &f, QByteArrayView data, int *status);
    // `append`: the request went to an append route, whose errors carry ok:false.
    void refuse(QTcpSocket *socket, Framing &f, int status, const QByteArray &reason,
                const QByteArray &message, bool append);

    std::function<bool(QTcpSocket *)> m_busy;
    QHash<QTcpSocket *, Framing> m_framing;
    QByteArray m_extraHeader;
};

} // namespace sessionscope
