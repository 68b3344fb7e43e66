#pragma once

#include "net/result.h"
#include "server/wirejson.h"

#include <QByteArray>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QList>
#include <QPair>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QTcpSocket>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>

namespace sessionscope {

class ChaosInjector;
class ChaosSseWriter;

// One request and its response. The request is copied out of Qt's parser
// (which reuses its request object for the next request on the connection),
// so a handler may answer later: after a group commit, or over minutes of SSE.
// Writing to a connection that has gone away is a no-op.
class HttpExchange : public std::enable_shared_from_this<HttpExchange>
{
public:
    using Ptr = std::shared_ptr<HttpExchange>;
    using Header = QPair<QByteArray, QByteArray>;

    HttpExchange(const QHttpServerRequest &request, QTcpSocket *socket,
                 QHttpServerResponder &&responder);
    ~HttpExchange();
    HttpExchange(const HttpExchange &) = delete;
    HttpExchange &operator=(const HttpExchange &) = delete;

    // --- request
    QHttpServerRequest::Method method() const { return m_method; }
    QByteArray methodName() const;
    // The path as sent, still percent-encoded.
    const QByteArray &encodedPath() const { return m_encodedPath; }
    // Path segments, each percent-decoded (so "%2F" inside a segment is "/").
    const QStringList &segments() const { return m_segments; }
    // First value of a header, case-insensitive; empty when absent.
    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    const QByteArray &body() const { return m_body; }
    // Query parameters decoded as URLSearchParams does ('+' is a space).
    const QList<QPair<QString, QString>> &queryItems() const { return m_query; }
    std::optional<QString> query(QStringView key) const;
    QStringList queryAll(QStringView key) const;

    // --- response
    // Added to whatever response is written (CORS, rate-limit headers).
    void addResponseHeader(const QByteArray &name, const QByteArray &value);
    void respond(int status, const QByteArray &body, const QByteArray &contentType,
                 const QList<Header> &headers = {});
    void respondJson(int status, const Json &body, const QList<Header> &headers = {});
    // {"error": message}: the webapp's error shape.
    void respondError(int status, const QString &message, const QList<Header> &headers = {});
    // A response with no body (HEAD, 204).
    void respondEmpty(int status, const QList<Header> &headers = {});
    // 400 {"error": error, "details": [{"message", "path": [path]}]}: how the
    // webapp reports bad path parameters and query strings.
    void respondDetailedError(const QString &error, const QString &message, const QString &path);
    // 403 for a valid credential without the scope, as the webapp words it.
    void respondForbidden();

    // The body as JSON, enforcing the route's size cap as the webapp does:
    // 413 {"error":"Request body too large"}, 400 "Request body is empty" /
    // "Invalid JSON". On failure the response is sent and nullopt returned.
    std::optional<Json> readJsonBody(qint64 maxBytes);
    // The parsing half of readJsonBody() (no size cap): the JSON value, or a
    // 400 Error worded as the response would be.
    static Result<Json> parseJsonBody(QByteArrayView body);
    bool bodyTooLarge(qint64 maxBytes) const;

    // Chunked streaming (SSE): status line and headers now, then chunks.
    void beginStream(int status, const QList<Header> &headers);
    void writeChunk(QByteArrayView data);
    // One chunk made of several pieces (e.g. an event's own id line around a
    // batch shared by every subscriber), gathered without copying them first.
    void writeChunk(std::initializer_list<QByteArrayView> parts);
    // One chunk of a chunked transfer-encoded body, framed.
    static QByteArray chunkFrame(QByteArrayView data);
    // The terminating zero chunk; the connection stays usable (keep-alive).
    void endStream();

    bool isAnswered() const { return m_answered; }
    bool isFinished() const { return m_finished; }
    bool isConnected() const;
    QTcpSocket *socket() const { return m_socket.data(); }
    qint64 bytesToWrite() const;

    // Chaos mode: the X-Sessionscope-Chaos header on every response, and an
    // event stream's body through a ChaosSseWriter (drops, slow reads).
    void setChaos(std::shared_ptr<ChaosInjector> chaos) { m_chaos = std::move(chaos); }

    // The router learns here that the connection may take its next request.
    void setFinishedHandler(std::function<void()> handler) { m_onFinished = std::move(handler); }

private:
    void writeHead(int status, const QList<Header> &headers, std::optional<qint64> contentLength);
    void finish();

    QHttpServerRequest::Method m_method;
    QByteArray m_methodName;
    QByteArray m_encodedPath;
    QStringList m_segments;
    QList<Header> m_headers;
    QByteArray m_body;
    QList<QPair<QString, QString>> m_query;

    QPointer<QTcpSocket> m_socket;
    QHttpServerResponder m_responder;
    QList<Header> m_extraHeaders;
    bool m_answered = false;
    bool m_finished = false;
    bool m_closeAfter = false;
    std::function<void()> m_onFinished;
    std::shared_ptr<ChaosInjector> m_chaos;
    QPointer<ChaosSseWriter> m_chaosWriter;
};

} // namespace sessionscope
