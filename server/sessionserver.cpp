#include "server/sessionserver.h"

#include "server/agent/agentruntime.h"
#include "server/agent/deploymentroutes.h"
#include "server/apiauth.h"
#include "server/chaosinjector.h"
#include "server/channelroutes.h"
#include "server/database.h"
#include "server/httprouter.h"
#include "server/ratelimiter.h"
#include "server/runsroutes.h"
#include "server/secretkeyfile.h"
#include "server/sessionservice.h"
#include "server/sessionsroutes.h"
#include "server/sessionstore.h"
#include "server/streamstore.h"
#include "server/tcplistener.h"
#include "server/tokenservice.h"

#include <QDir>
#include <QFile>
#include <QTcpServer>

namespace sessionscope {

SessionServer::SessionServer(ServerConfig config, QObject *parent)
    : QObject(parent), m_config(std::move(config))
{
}

SessionServer::~SessionServer()
{
    stop();
    // Sockets (children of the router's TCP servers) go first, while the
    // stores they may still call into are alive.
    m_router.reset();
    m_channelRoutes.reset();
    m_deploymentRoutes.reset();
    m_agent.reset();
}

QString SessionServer::databasePath() const
{
    return QDir(m_config.dataDir).filePath(QStringLiteral("sessionscope.db"));
}

Result<void> SessionServer::start()
{
    if (m_running)
        return {};
    if (m_config.dataDir.isEmpty())
        return Error::make(QStringLiteral("No data directory given"));
    QDir dir(m_config.dataDir);
    if (!dir.exists()) {
        if (!QDir().mkpath(m_config.dataDir))
            return Error::make(
                QStringLiteral("Cannot create the data directory %1").arg(m_config.dataDir));
        QFile::setPermissions(m_config.dataDir, QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                                    QFileDevice::ExeOwner);
    }

    m_secretKey = m_config.secretKey;
    m_secretKeyPath.clear();
    m_secretKeyGenerated = false;
    if (m_secretKey.isEmpty()) {
        auto key = SecretKeyFile::loadOrCreate(m_config.dataDir, &m_secretKeyGenerated);
        if (!key)
            return key.error();
        m_secretKey = *key;
        m_secretKeyPath = SecretKeyFile::pathIn(m_config.dataDir);
    }

    m_db = std::make_unique<Database>();
    if (auto r = m_db->open(databasePath()); !r) {
        m_db.reset();
        return r;
    }
    m_store = std::make_unique<SessionStore>(*m_db);
    m_sessions = std::make_unique<SessionService>(*m_db, *m_store);
    m_sessions->defaultRunLauncher().setDefaultVersion(m_config.defaultRunVersion);
    m_streams = std::make_unique<StreamStore>(*m_db);
    m_tokens = std::make_unique<TokenService>(m_secretKey.toUtf8(), m_config.environmentId);
    m_auth = std::make_unique<ApiAuth>(m_secretKey.toUtf8(), *m_tokens);
    m_limiter = std::make_unique<RateLimiter>(m_config.rateLimitPerSecond, m_config.rateLimitBurst);

    m_chaos = m_config.chaos.isActive() ? std::make_shared<ChaosInjector>(m_config.chaos) : nullptr;
    const RouteContext ctx{m_config, *m_sessions, *m_streams, *m_tokens, m_chaos.get()};
    m_channelRoutes = std::make_unique<ChannelRoutes>(ctx);
    connect(m_channelRoutes.get(), &ChannelRoutes::subscriberCountChanged, this,
            &SessionServer::subscriberCountChanged);
    m_sessionsRoutes = std::make_unique<SessionsRoutes>(ctx);
    m_runsRoutes = std::make_unique<RunsRoutes>(ctx);
    m_router = std::make_unique<HttpRouter>(*m_auth, *m_limiter);
    m_router->setChaos(m_chaos);
    registerChaosRoute();
    m_sessionsRoutes->registerRoutes(*m_router);
    m_runsRoutes->registerRoutes(*m_router);
    m_channelRoutes->registerRoutes(*m_router);

    if (m_config.agentRuntime) {
        m_agent = std::make_unique<AgentRuntime>(*m_db, *m_sessions, *m_streams, m_tokens.get());
        m_agent->setChunkRateOverride(m_config.agentChunksPerSecond);
        if (auto r = m_agent->start(); !r) {
            m_agent.reset();
            m_router.reset();
            return r;
        }
        m_deploymentRoutes = std::make_unique<DeploymentRoutes>(m_agent->registry());
        m_deploymentRoutes->registerRoutes(*m_router);
    }

    auto listened = listenTcp(m_config.host, m_config.port);
    if (!listened)
        return listened.error();
    QTcpServer *tcp = *listened;
    m_port = tcp->serverPort();
    m_router->bind(tcp);
    m_running = true;
    return {};
}

void SessionServer::registerChaosRoute()
{
    // Our extension: what chaos mode is injecting, and how often it has.
    m_router->addRoute(
        {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("chaos")}, {HttpRouter::Method::Get},
        [this](const HttpExchange::Ptr &exchange, const AuthContext &auth, const QStringList &) {
            if (!auth.isSecretKey()) {
                exchange->respondError(403, QStringLiteral("Reading chaos mode requires secret key authentication"));
                return;
            }
            if (!m_chaos) {
                exchange->respondJson(200, Json{{"enabled", false}, {"spec", ""}});
                return;
            }
            exchange->respondJson(200, m_chaos->report());
        });
}

void SessionServer::stop()
{
    if (!m_running)
        return;
    m_running = false;
    for (QTcpServer *tcp : m_router->servers())
        tcp->close();
    m_channelRoutes->closeSubscribers();
    m_streams->flush();
    m_router->disconnectAll();
}

QUrl SessionServer::baseUrl() const
{
    return httpBaseUrl(m_config.host, m_port);
}

SessionService &SessionServer::sessions()
{
    Q_ASSERT(m_sessions);
    return *m_sessions;
}

StreamStore &SessionServer::streams()
{
    Q_ASSERT(m_streams);
    return *m_streams;
}

TokenService &SessionServer::tokens()
{
    Q_ASSERT(m_tokens);
    return *m_tokens;
}

Database &SessionServer::database()
{
    Q_ASSERT(m_db);
    return *m_db;
}

HttpRouter &SessionServer::router()
{
    Q_ASSERT(m_router);
    return *m_router;
}

int SessionServer::connectionCount() const
{
    return m_router ? m_router->connectionCount() : 0;
}

int SessionServer::subscriberCount() const
{
    return m_channelRoutes ? m_channelRoutes->subscriberCount() : 0;
}

} // namespace sessionscope
