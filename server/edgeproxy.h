#pragma once

#include "net/result.h"
#include "server/edgerewriter.h"
#include "server/edgesignals.h"

#include <QAbstractHttpServer>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QStringList>
#include <QUrl>

#include <memory>

class QNetworkAccessManager;

namespace sessionscope {

class EdgeRelay;
class RequestGuard;

struct EdgeProxyConfig
{
    QHostAddress host = QHostAddress::LocalHost;
    quint16 port = 0;
    // http(s)://HOST[:PORT][/PREFIX]: every request goes to PREFIX + its own path.
    QUrl upstream;
    // The metadata key the proxy owns (e.g. "__edge").
    QString namespaceKey;
    EdgeSignals edgeSignals;
    // Origins whose CORS preflights the proxy answers itself ("*": any). Empty:
    // preflights and CORS headers are the upstream's, passed through.
    QStringList corsOrigins;
    // An upstream that has not sent its response head by then is a 504.
    int upstreamHeadTimeoutMs = 60'000;
};

// A trusted edge in front of any session backend (sessionscope-server or
// Trigger.dev), on Qt HttpServer: POST /api/v1/sessions and `.in` appends of
// kind "message" get the client's value under the namespace key replaced by
// the edge's signals (EdgeRewriter); every other request goes through as the
// client sent it, and every answer comes back as the upstream gave it, SSE
// streamed chunk by chunk (EdgeRelay). Requests on one connection are
// answered in order. Bodies over RequestGuard::MaxBodyBytes (2 MiB) are
// refused with 413 before they are read, on every route, as
// sessionscope-server refuses them; below that every body of a rewritten
// route is rewritten.
class EdgeProxy : public QAbstractHttpServer
{
    Q_OBJECT

public:
    // Upstream requests in flight per QNetworkAccessManager: Qt opens at most
    // six connections per host and queues the rest, which would starve short
    // requests behind long SSE streams; a new manager is made instead.
    static constexpr int RequestsPerManager = 6;

    explicit EdgeProxy(EdgeProxyConfig config, QObject *parent = nullptr);
    ~EdgeProxy() override;

    // Checks the config (upstream URL, namespace key) and listens.
    Result<void> start();
    // Stops accepting, abandons in-flight relays and disconnects every client.
    void stop();

    quint16 port() const { return m_port; }
    // http://HOST:PORT, no trailing slash.
    QUrl baseUrl() const;
    const EdgeProxyConfig &config() const { return m_config; }
    int connectionCount() const { return int(m_connections.size()); }
    int managerCount() const { return int(m_managers.size()); }

    static Result<void> validate(const EdgeProxyConfig &config);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Request
    {
        QByteArray method; // empty: a method Qt's parser does not name
        QByteArray path;   // percent-encoded, as sent
        QByteArray query;  // percent-encoded, without '?'; empty when none
        bool hasQuery = false;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;
        QHostAddress peer;

        QByteArray header(QByteArrayView name) const;
    };
    struct Connection
    {
        EdgeRelay *current = nullptr;
        QList<Request> waiting;
    };
    struct Manager
    {
        QNetworkAccessManager *manager = nullptr;
        int inFlight = 0;
    };

    void dispatch(QTcpSocket *socket, const Request &request);
    void relayFinished(QTcpSocket *socket, EdgeRelay *relay);
    void forget(QTcpSocket *socket);
    bool answerPreflight(EdgeRelay *relay, const Request &request);
    void applyCors(const Request &request, QList<QPair<QByteArray, QByteArray>> &headers) const;
    QUrl upstreamUrl(const Request &request) const;
    QNetworkAccessManager *acquireManager();
    void releaseManager(QNetworkAccessManager *manager);

    EdgeProxyConfig m_config;
    EdgeRewriter m_rewriter;
    std::unique_ptr<RequestGuard> m_guard;
    QHash<QTcpSocket *, Connection> m_connections;
    QList<Manager> m_managers;
    quint16 m_port = 0;
};

} // namespace sessionscope
