#pragma once

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QTimer>

#include <functional>

class QNetworkAccessManager;
class QNetworkReply;
class QNetworkRequest;
class QTcpSocket;

namespace sessionscope {

// One client request of the edge proxy, relayed to the upstream with
// QNetworkAccessManager, and the upstream's answer written back to the client
// socket as it arrives: status and reason, every end-to-end header, the body
// chunk by chunk (an SSE stream is never buffered). A body with a
// Content-Length goes back with that length, any other is re-chunked. While
// more than HighWaterBytes wait on the client socket, Qt reads at most
// ReadBufferBytes ahead from the upstream. An upstream that fails before answering is a 502 (504 after the head
// timeout); one that fails mid-body cuts the client connection, so the client
// sees a truncated response rather than a complete one.
class EdgeRelay : public QObject
{
    Q_OBJECT

public:
    using Header = QPair<QByteArray, QByteArray>;
    // Adjusts the upstream's headers before they are written (CORS).
    using HeaderFilter = std::function<void(QList<Header> &)>;

    static constexpr qint64 HighWaterBytes = 1024 * 1024;
    static constexpr qint64 ReadBufferBytes = 256 * 1024;

    // `method` decides whether the answer has a body (HEAD has none);
    // `closeAfter` answers with Connection: close and closes when done.
    EdgeRelay(QTcpSocket *client, QByteArray method, bool closeAfter, QObject *parent = nullptr);
    ~EdgeRelay() override;

    void setHeaderFilter(HeaderFilter filter) { m_filter = std::move(filter); }
    void setHeadTimeout(int ms) { m_headTimeoutMs = ms; }

    // Sends the request upstream and streams the answer back.
    void relay(QNetworkAccessManager &manager, const QNetworkRequest &request, const QByteArray &body);
    // Answers without the upstream (preflight, refusals). `headers` go out as given.
    void respond(int status, const QByteArray &reason, const QList<Header> &headers, const QByteArray &body);
    // {"error": message} (with "ok": false for appends), through the header filter.
    void respondError(int status, const QString &message, bool append);
    // The client is gone or the proxy stops: the upstream request is aborted.
    void cancel();

    bool isFinished() const { return m_finished; }

Q_SIGNALS:
    // The response is complete (or abandoned); the connection may take its next request.
    void finished();

private:
    void writeHead();
    void pump();
    void onUpstreamFinished();
    void writeBody(QByteArrayView data);
    void complete();
    void finish();
    void detachReply();

    QPointer<QTcpSocket> m_client;
    QByteArray m_method;
    bool m_closeAfter = false;
    HeaderFilter m_filter;
    int m_headTimeoutMs = 60'000;
    QPointer<QNetworkReply> m_reply;
    QTimer m_headTimer;
    bool m_headWritten = false;
    bool m_chunked = false;
    bool m_noBody = false;
    bool m_upstreamDone = false;
    bool m_upstreamFailed = false; // ended as a connection failure, not a complete answer
    bool m_throttled = false;      // Qt's read buffer is bounded while the client is behind
    qint64 m_expectedLength = -1;  // the upstream's Content-Length
    qint64 m_bodyBytes = 0;
    bool m_timedOut = false;
    bool m_finished = false;
};

} // namespace sessionscope
