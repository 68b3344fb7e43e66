#include "server/edgeproxy.h"

#include "server/edgerelay.h"
#include "server/requestguard.h"
#include "server/tcplistener.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QNetworkAccessManager>
#include <QNetworkRequest>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

namespace sessionscope {

namespace {

using Header = QPair<QByteArray, QByteArray>;

QByteArray methodName(QHttpServerRequest::Method method)
{
    switch (method) {
    case QHttpServerRequest::Method::Get: return "GET";
    case QHttpServerRequest::Method::Head: return "HEAD";
    case QHttpServerRequest::Method::Post: return "POST";
    case QHttpServerRequest::Method::Put: return "PUT";
    case QHttpServerRequest::Method::Patch: return "PATCH";
    case QHttpServerRequest::Method::Delete: return "DELETE";
    case QHttpServerRequest::Method::Options: return "OPTIONS";
    default: return {};
    }
}

// Request headers that describe the client's connection to the proxy (or that
// Qt recomputes for the upstream request) rather than the request.
bool isConnectionHeader(const QByteArray &lowerName, const QList<QByteArray> &listedInConnection)
{
    static const QList<QByteArray> names{"connection", "keep-alive",     "proxy-connection", "proxy-authorization",
                                         "te",         "trailer",        "transfer-encoding", "upgrade",
                                         "host",       "content-length", "expect"};
    return names.contains(lowerName) || listedInConnection.contains(lowerName);
}

} // namespace

QByteArray EdgeProxy::Request::header(QByteArrayView name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

EdgeProxy::EdgeProxy(EdgeProxyConfig config, QObject *parent)
    : QAbstractHttpServer(parent), m_config(std::move(config)), m_rewriter(m_config.namespaceKey),
      m_guard(std::make_unique<RequestGuard>([this](QTcpSocket *socket) {
          const auto it = m_connections.constFind(socket);
          return it != m_connections.cend() && (it->current || !it->waiting.isEmpty());
      }))
{
}

EdgeProxy::~EdgeProxy()
{
    stop();
}

Result<void> EdgeProxy::validate(const EdgeProxyConfig &config)
{
    const QUrl &up = config.upstream;
    if (!up.isValid() || (up.scheme() != u"http" && up.scheme() != u"https") || up.host().isEmpty())
        return Error::make(QStringLiteral("--upstream must be an http:// or https:// URL (got \"%1\")")
                               .arg(up.toString(QUrl::RemoveUserInfo)));
    if (!up.userInfo().isEmpty())
        return Error::make(QStringLiteral("--upstream must not carry credentials: clients send their own"));
    if (up.hasQuery() || up.hasFragment())
        return Error::make(QStringLiteral("--upstream must not have a query or fragment"));
    if (config.namespaceKey.isEmpty())
        return Error::make(QStringLiteral("--namespace must name the metadata key the proxy owns (e.g. __edge)"));
    return {};
}

Result<void> EdgeProxy::start()
{
    if (auto valid = validate(m_config); !valid)
        return valid;
    auto listened = listenTcp(m_config.host, m_config.port);
    if (!listened)
        return listened.error();
    QTcpServer *tcp = *listened;
    m_port = tcp->serverPort();
    // The guard reads each chunk before Qt's parser, so it connects first.
    m_guard->watch(tcp);
    bind(tcp);
    return {};
}

void EdgeProxy::stop()
{
    for (QTcpServer *tcp : servers())
        tcp->close();
    const auto connections = std::exchange(m_connections, {});
    for (auto it = connections.begin(); it != connections.end(); ++it) {
        if (it->current) {
            disconnect(it->current, nullptr, this, nullptr);
            it->current->cancel();
            it->current->deleteLater();
        }
        it.key()->disconnectFromHost();
    }
}

QUrl EdgeProxy::baseUrl() const
{
    return httpBaseUrl(m_config.host, m_port);
}

bool EdgeProxy::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    Request r;
    r.method = methodName(request.method());
    const QUrl url = request.url();
    r.path = url.path(QUrl::FullyEncoded).toUtf8();
    if (r.path.isEmpty())
        r.path = "/";
    r.hasQuery = url.hasQuery();
    r.query = url.query(QUrl::FullyEncoded).toUtf8();
    r.headers = request.headers();
    r.body = request.body();
    r.peer = request.remoteAddress();

    auto it = m_connections.find(socket);
    if (it == m_connections.end()) {
        it = m_connections.insert(socket, Connection{});
        // SSE events and small answers go out at once, not after Nagle's wait.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        connect(socket, &QObject::destroyed, this, [this, socket] { forget(socket); });
    }
    if (it->current || !it->waiting.isEmpty()) {
        it->waiting.append(std::move(r));
        return true;
    }
    dispatch(socket, r);
    return true;
}

void EdgeProxy::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // handleRequest takes every request; this only runs if Qt changes that.
    auto responder = makeResponder(request, socket);
    responder.write(QHttpServerResponder::StatusCode::NotFound);
}

void EdgeProxy::dispatch(QTcpSocket *socket, const Request &request)
{
    const bool closeAfter = request.header("connection").toLower().contains("close");
    auto *relay = new EdgeRelay(socket, request.method.isEmpty() ? QByteArray("GET") : request.method, closeAfter,
                                this);
    m_connections[socket].current = relay;
    relay->setHeadTimeout(m_config.upstreamHeadTimeoutMs);
    relay->setHeaderFilter([this, request](QList<Header> &headers) { applyCors(request, headers); });
    QPointer<QTcpSocket> guarded(socket);
    connect(relay, &EdgeRelay::finished, this, [this, guarded, relay] {
        // The next request from the event loop, so a long pipeline cannot recurse.
        // The relay is deleted only after the connection has forgotten it: a
        // deferred delete can be sent before this queued call runs (QTest::qWait
        // sends them explicitly), leaving `current` dangling for stop().
        QPointer<EdgeRelay> alive(relay);
        QMetaObject::invokeMethod(
            this,
            [this, guarded, relay, alive] {
                relayFinished(guarded.data(), relay);
                if (alive)
                    alive->deleteLater();
            },
            Qt::QueuedConnection);
    });

    if (request.method.isEmpty()) {
        relay->respondError(501, QStringLiteral("The edge proxy relays GET, HEAD, POST, PUT, PATCH, DELETE and "
                                                "OPTIONS only"),
                            false);
        return;
    }
    if (answerPreflight(relay, request))
        return;

    QByteArray body = request.body;
    const EdgeRewriter::Route route = EdgeRewriter::routeOf(request.method, request.path);
    if (route != EdgeRewriter::Route::None) {
        const EdgeRequestFacts facts{request.peer, request.headers};
        const auto outcome =
            m_rewriter.rewrite(route, body, request.header("content-encoding"), m_config.edgeSignals.valueFor(facts));
        if (outcome.action == EdgeRewriter::Outcome::Action::Refuse) {
            relay->respondError(outcome.status, outcome.error, route == EdgeRewriter::Route::AppendIn);
            return;
        }
        if (outcome.action == EdgeRewriter::Outcome::Action::Rewritten)
            body = outcome.body;
    }

    QNetworkRequest upstream(upstreamUrl(request));
    upstream.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    upstream.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    upstream.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    upstream.setAttribute(QNetworkRequest::AuthenticationReuseAttribute, QNetworkRequest::Manual);
    // No cache attributes: the manager has no cache, and AlwaysNetwork would
    // add Cache-Control and Pragma headers the client did not send.
    QList<QByteArray> listed;
    for (const QByteArray &token : request.header("connection").split(','))
        listed << token.trimmed().toLower();
    // QNetworkRequest keeps one value per name: repeats are folded as HTTP allows.
    QList<Header> forwarded;
    for (const Header &h : request.headers) {
        const QByteArray lower = h.first.toLower();
        if (isConnectionHeader(lower, listed))
            continue;
        auto same = std::find_if(forwarded.begin(), forwarded.end(),
                                 [&lower](const Header &f) { return f.first.toLower() == lower; });
        if (same == forwarded.end())
            forwarded.append(h);
        else
            same->second += (lower == "cookie" ? QByteArrayLiteral("; ") : QByteArrayLiteral(", ")) + h.second;
    }
    bool acceptEncoding = false;
    for (const Header &h : std::as_const(forwarded)) {
        upstream.setRawHeader(h.first, h.second);
        acceptEncoding = acceptEncoding || h.first.compare("accept-encoding", Qt::CaseInsensitive) == 0;
    }
    // Without one Qt asks for gzip and inflates the answer itself, which would
    // change the body and headers the client gets.
    if (!acceptEncoding)
        upstream.setRawHeader("Accept-Encoding", "identity");

    QNetworkAccessManager *manager = acquireManager();
    connect(relay, &EdgeRelay::finished, this, [this, manager] { releaseManager(manager); });
    relay->relay(*manager, upstream, body);
}

void EdgeProxy::relayFinished(QTcpSocket *socket, EdgeRelay *relay)
{
    if (!socket)
        return;
    auto it = m_connections.find(socket);
    if (it == m_connections.end() || it->current != relay)
        return;
    it->current = nullptr;
    if (it->waiting.isEmpty())
        return;
    if (socket->state() != QAbstractSocket::ConnectedState) {
        it->waiting.clear();
        return;
    }
    dispatch(socket, it->waiting.takeFirst());
}

void EdgeProxy::forget(QTcpSocket *socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    if (it->current)
        it->current->cancel();
    m_connections.erase(it);
}

bool EdgeProxy::answerPreflight(EdgeRelay *relay, const Request &request)
{
    if (m_config.corsOrigins.isEmpty() || request.method != "OPTIONS")
        return false;
    const QByteArray origin = request.header("origin");
    if (origin.isEmpty() || request.header("access-control-request-method").isEmpty())
        return false; // not a preflight: the upstream answers OPTIONS
    const bool allowed = m_config.corsOrigins.contains(QStringLiteral("*")) ||
                         m_config.corsOrigins.contains(QString::fromUtf8(origin));
    if (!allowed) {
        relay->respond(403, "Forbidden", {{"Vary", "Origin"}}, {});
        return true;
    }
    QByteArray requested = request.header("access-control-request-headers");
    if (requested.isEmpty())
        requested = "Authorization, Content-Type, Accept, Last-Event-ID, Timeout-Seconds, X-Part-Id, X-Peek-Settled";
    relay->respond(204, "No Content",
                   {{"Access-Control-Allow-Origin", origin},
                    {"Vary", "Origin"},
                    {"Access-Control-Allow-Methods", "GET, HEAD, PUT, PATCH, POST, DELETE"},
                    {"Access-Control-Allow-Headers", requested},
                    {"Access-Control-Max-Age", "300"}},
                   {});
    return true;
}

void EdgeProxy::applyCors(const Request &request, QList<Header> &headers) const
{
    if (m_config.corsOrigins.isEmpty()) {
        // The upstream's CORS headers stand; the proxy's own answers allow any
        // origin, as the API does.
        const bool hasAllow = std::any_of(headers.cbegin(), headers.cend(), [](const Header &h) {
            return h.first.compare("access-control-allow-origin", Qt::CaseInsensitive) == 0;
        });
        if (!hasAllow)
            headers.append(Header("Access-Control-Allow-Origin", "*"));
        return;
    }
    headers.removeIf([](const Header &h) {
        return h.first.compare("access-control-allow-origin", Qt::CaseInsensitive) == 0;
    });
    const QByteArray origin = request.header("origin");
    const bool allowed = !origin.isEmpty() && (m_config.corsOrigins.contains(QStringLiteral("*")) ||
                                               m_config.corsOrigins.contains(QString::fromUtf8(origin)));
    if (allowed)
        headers.append(Header("Access-Control-Allow-Origin", origin));
    headers.append(Header("Vary", "Origin"));
}

QUrl EdgeProxy::upstreamUrl(const Request &request) const
{
    QUrl url = m_config.upstream;
    QByteArray prefix = url.path(QUrl::FullyEncoded).toUtf8();
    while (prefix.endsWith('/'))
        prefix.chop(1);
    url.setPath(QString::fromUtf8(prefix + request.path), QUrl::TolerantMode);
    if (request.hasQuery)
        url.setQuery(QString::fromUtf8(request.query), QUrl::TolerantMode);
    return url;
}

QNetworkAccessManager *EdgeProxy::acquireManager()
{
    for (Manager &m : m_managers) {
        if (m.inFlight < RequestsPerManager) {
            ++m.inFlight;
            return m.manager;
        }
    }
    auto *manager = new QNetworkAccessManager(this);
    manager->setAutoDeleteReplies(false);
    m_managers.append(Manager{manager, 1});
    return manager;
}

void EdgeProxy::releaseManager(QNetworkAccessManager *manager)
{
    for (qsizetype i = 0; i < m_managers.size(); ++i) {
        Manager &m = m_managers[i];
        if (m.manager != manager)
            continue;
        --m.inFlight;
        // The first manager stays (its keep-alive connections serve the next
        // requests); the overflow ones go when idle.
        if (m.inFlight == 0 && i > 0) {
            m.manager->deleteLater();
            m_managers.removeAt(i);
        }
        return;
    }
}

} // namespace sessionscope
