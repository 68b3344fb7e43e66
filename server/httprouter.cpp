#include "server/httprouter.h"

#include "server/chaosinjector.h"
#include "server/ratelimiter.h"
#include "server/requestguard.h"

#include <QDateTime>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

namespace sessionscope {

namespace {

QByteArray methodsText(const QList<HttpRouter::Method> &methods)
{
    QList<QByteArray> names;
    for (auto m : methods) {
        switch (m) {
        case HttpRouter::Method::Get:
            names << "GET";
            break;
        case HttpRouter::Method::Head:
            names << "HEAD";
            break;
        case HttpRouter::Method::Post:
            names << "POST";
            break;
        case HttpRouter::Method::Put:
            names << "PUT";
            break;
        case HttpRouter::Method::Patch:
            names << "PATCH";
            break;
        case HttpRouter::Method::Delete:
            names << "DELETE";
            break;
        default:
            break;
        }
    }
    return names.join(", ");
}

bool matches(const QStringList &pattern, const QStringList &segments, QStringList *params)
{
    if (pattern.size() != segments.size())
        return false;
    QStringList out;
    for (qsizetype i = 0; i < pattern.size(); ++i) {
        if (pattern.at(i) == u"{}")
            out << segments.at(i);
        else if (pattern.at(i) != segments.at(i))
            return false;
    }
    *params = out;
    return true;
}

} // namespace

HttpRouter::HttpRouter(const ApiAuth &auth, RateLimiter &limiter, QObject *parent)
    : QAbstractHttpServer(parent), m_auth(auth), m_limiter(limiter),
      m_guard(std::make_unique<RequestGuard>([this](QTcpSocket *socket) {
          const auto it = m_connections.constFind(socket);
          return it != m_connections.cend() && (it->busy || !it->waiting.isEmpty());
      }))
{
}

void HttpRouter::bind(QTcpServer *server)
{
    if (server)
        m_guard->watch(server);
    QAbstractHttpServer::bind(server);
}

HttpRouter::~HttpRouter()
{
    // Queued exchanges answer as they are destroyed; they must not call back.
    const auto connections = std::exchange(m_connections, {});
    for (auto it = connections.begin(); it != connections.end(); ++it) {
        for (const auto &e : it->waiting)
            e->setFinishedHandler({});
    }
}

void HttpRouter::setChaos(std::shared_ptr<ChaosInjector> chaos)
{
    m_chaos = std::move(chaos);
    m_guard->setExtraResponseHeader(m_chaos ? "X-Sessionscope-Chaos: " + m_chaos->headerValue() : QByteArray());
}

void HttpRouter::addRoute(const QStringList &pattern, const QList<Method> &methods, Handler handler)
{
    m_routes.append(Route{pattern, methods, std::move(handler)});
}

QList<HttpExchange::Header> HttpRouter::corsHeaders(const HttpExchange &exchange)
{
    const QByteArray origin = exchange.header("origin");
    if (origin.isEmpty())
        return {{QByteArrayLiteral("Access-Control-Allow-Origin"), QByteArrayLiteral("*")}};
    return {{QByteArrayLiteral("Access-Control-Allow-Origin"), origin},
            {QByteArrayLiteral("Vary"), QByteArrayLiteral("Origin")}};
}

bool HttpRouter::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    auto exchange = std::make_shared<HttpExchange>(request, socket, makeResponder(request, socket));
    exchange->setChaos(m_chaos);
    auto it = m_connections.find(socket);
    if (it == m_connections.end()) {
        it = m_connections.insert(socket, Connection{});
        // Small writes (an SSE event, an append's answer) go out at once
        // instead of waiting on Nagle for the peer's delayed ACK.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        connect(socket, &QObject::destroyed, this, [this, socket] { forget(socket); });
    }
    if (it->busy) {
        it->waiting.append(exchange);
        return true;
    }
    it->busy = true;
    dispatch(exchange);
    return true;
}

void HttpRouter::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // handleRequest takes every request; this only runs if Qt changes that.
    auto responder = makeResponder(request, socket);
    responder.write(QHttpServerResponder::StatusCode::NotFound);
}

void HttpRouter::dispatch(const HttpExchange::Ptr &exchange)
{
    QTcpSocket *key = exchange->socket();
    // The router may be gone when a late exchange finishes (shutdown).
    QPointer<HttpRouter> self(this);
    exchange->setFinishedHandler([self, key] {
        if (self)
            self->exchangeFinished(key);
    });
    for (const auto &h : corsHeaders(*exchange))
        exchange->addResponseHeader(h.first, h.second);
    // The connection stays busy while a request waits, so its answers keep their order.
    if (const int delay = m_chaos ? m_chaos->requestDelayMs() : 0; delay > 0) {
        QTimer::singleShot(delay, this, [this, exchange] { route(exchange); });
        return;
    }
    route(exchange);
}

void HttpRouter::route(const HttpExchange::Ptr &exchange)
{
    const QStringList &segments = exchange->segments();
    if (exchange->method() == Method::Options) {
        QByteArray requested = exchange->header("access-control-request-headers");
        if (requested.isEmpty()) {
            requested =
                "Authorization, Content-Type, Accept, Last-Event-ID, Timeout-Seconds, X-Part-Id, "
                "X-Peek-Settled, X-Record-Headers";
        }
        exchange->respondEmpty(
            204, {{"Access-Control-Allow-Methods", "GET, HEAD, PUT, PATCH, POST, DELETE"},
                  {"Access-Control-Allow-Headers", requested},
                  {"Access-Control-Max-Age", "300"}});
        return;
    }
    if (segments == QStringList{QStringLiteral("healthcheck")}) {
        exchange->respond(200, "OK", "text/plain; charset=utf-8");
        return;
    }

    const Route *found = nullptr;
    QStringList params;
    QList<Method> allowed;
    for (const Route &r : m_routes) {
        QStringList p;
        if (!matches(r.pattern, segments, &p))
            continue;
        allowed << r.methods;
        if (r.methods.contains(exchange->method())) {
            found = &r;
            params = p;
            break;
        }
    }
    if (!found) {
        if (!allowed.isEmpty()) {
            exchange->respondError(405, QStringLiteral("Method not allowed"),
                                   {{"Allow", methodsText(allowed)}});
        } else {
            exchange->respondError(404, QStringLiteral("Not found"));
        }
        return;
    }

    const QByteArray authorization = exchange->header("authorization");
    if (m_limiter.enabled() && !authorization.isEmpty()) {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const RateLimitDecision d = m_limiter.take(authorization, now);
        exchange->addResponseHeader("x-ratelimit-limit", QByteArray::number(d.limit));
        exchange->addResponseHeader("x-ratelimit-remaining", QByteArray::number(d.remaining));
        exchange->addResponseHeader("x-ratelimit-reset", QByteArray::number(d.resetMs));
        if (!d.allowed) {
            const double seconds = qMax<qint64>(0, d.resetMs - now) / 1000.0;
            const std::string message =
                QStringLiteral("Rate limit exceeded %1/%2 requests remaining. Retry in %3 "
                               "seconds.")
                    .arg(d.remaining)
                    .arg(d.limit)
                    .arg(seconds)
                    .toStdString();
            Json body = Json::object();
            body["title"] = "Rate Limit Exceeded";
            body["status"] = 429;
            body["type"] = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/429";
            body["detail"] = message;
            body["reset"] = d.resetMs;
            body["limit"] = d.limit;
            body["remaining"] = d.remaining;
            body["secondsUntilReset"] = seconds;
            body["error"] = message;
            exchange->respond(429, wirejson::dump(body), "application/problem+json");
            return;
        }
    }

    auto auth = m_auth.authenticate(authorization);
    if (!auth) {
        exchange->respondError(auth.error().httpStatus ? auth.error().httpStatus : 401,
                               auth.error().message);
        return;
    }
    for (const QString &p : params) {
        if (p.isEmpty()) {
            exchange->respondError(404, QStringLiteral("Not found"));
            return;
        }
        if (p.contains(QLatin1Char('/'))) {
            // Ids never contain '/': a "%2F" in a path segment is refused rather
            // than allowed to address something else.
            exchange->respondDetailedError(
                QStringLiteral("Params Error"),
                QStringLiteral("A path parameter must not contain '/' (%2F)"), QString());
            return;
        }
    }
    found->handler(exchange, *auth, params);
}

void HttpRouter::exchangeFinished(QTcpSocket *socket)
{
    if (!m_connections.contains(socket))
        return;
    // The next request on this connection (if any) from the event loop, so a
    // long pipeline cannot recurse.
    QMetaObject::invokeMethod(
        this, [this, socket] { dispatchNext(socket); }, Qt::QueuedConnection);
}

void HttpRouter::dispatchNext(QTcpSocket *socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    if (it->waiting.isEmpty()) {
        it->busy = false;
        return;
    }
    dispatch(it->waiting.takeFirst());
}

void HttpRouter::forget(QTcpSocket *socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    const QList<HttpExchange::Ptr> waiting = std::move(it->waiting);
    m_connections.erase(it);
    for (const auto &e : waiting)
        e->setFinishedHandler({});
}

void HttpRouter::disconnectAll()
{
    const auto sockets = m_connections.keys();
    for (QTcpSocket *s : sockets)
        s->disconnectFromHost();
}

} // namespace sessionscope
