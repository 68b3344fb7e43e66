#pragma once

#include "server/apiauth.h"
#include "server/httpexchange.h"

#include <QAbstractHttpServer>
#include <QHash>
#include <QList>
#include <QStringList>

#include <functional>
#include <memory>

namespace sessionscope {

class ChaosInjector;
class RateLimiter;
class RequestGuard;

// The HTTP front on Qt HttpServer: matches paths to routes, answers CORS
// preflights, applies the rate limit and authentication, and keeps each
// connection's responses in request order (a request that arrives while the
// previous one on the same connection is still being answered waits for it).
class HttpRouter : public QAbstractHttpServer
{
    Q_OBJECT

public:
    using Method = QHttpServerRequest::Method;
    // `params` are the decoded path parameters, in pattern order.
    using Handler = std::function<void(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                                       const QStringList &params)>;

    HttpRouter(const ApiAuth &auth, RateLimiter &limiter, QObject *parent = nullptr);
    ~HttpRouter() override;

    // Hides QAbstractHttpServer::bind: the request guard, which bounds the
    // bytes Qt buffers per request, must be connected to `server` first.
    void bind(QTcpServer *server);

    // Pattern segments are literals, or "{}" for a parameter.
    void addRoute(const QStringList &pattern, const QList<Method> &methods, Handler handler);

    // Chaos mode: every response carries X-Sessionscope-Chaos, every request
    // waits its injected latency (on a timer) before it is routed.
    void setChaos(std::shared_ptr<ChaosInjector> chaos);

    int connectionCount() const { return int(m_connections.size()); }
    // Disconnects every client (shutdown).
    void disconnectAll();

    // The headers every cross-origin answer carries (the real API allows all origins).
    static QList<HttpExchange::Header> corsHeaders(const HttpExchange &exchange);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Route
    {
        QStringList pattern;
        QList<Method> methods;
        Handler handler;
    };
    struct Connection
    {
        bool busy = false;
        QList<HttpExchange::Ptr> waiting;
    };

    void dispatch(const HttpExchange::Ptr &exchange);
    void route(const HttpExchange::Ptr &exchange);
    void exchangeFinished(QTcpSocket *socket);
    void dispatchNext(QTcpSocket *socket);
    void forget(QTcpSocket *socket);

    const ApiAuth &m_auth;
    RateLimiter &m_limiter;
    std::unique_ptr<RequestGuard> m_guard;
    QList<Route> m_routes;
    QHash<QTcpSocket *, Connection> m_connections;
    std::shared_ptr<ChaosInjector> m_chaos;
};

} // namespace sessionscope
