#pragma once

#include "net/result.h"
#include "server/serverconfig.h"

#include <QObject>
#include <QUrl>

#include <memory>

namespace sessionscope {

class AgentRuntime;
class ApiAuth;
class ChaosInjector;
class DeploymentRoutes;
class ChannelRoutes;
class Database;
class HttpRouter;
class RateLimiter;
class RunsRoutes;
class SessionService;
class SessionStore;
class SessionsRoutes;
class StreamStore;
class TokenService;

// The embedded backend: the Trigger.dev session wire protocol on Qt
// HttpServer over SQLite. The desktop app runs it in-process, the
// sessionscope-server executable headless. Its stores are the in-process API
// (for the agent runtime): SessionService for sessions, runs and the audit,
// StreamStore for records (append, read, recordsAppended).
class SessionServer : public QObject
{
    Q_OBJECT

public:
    explicit SessionServer(ServerConfig config, QObject *parent = nullptr);
    ~SessionServer() override;

    // Opens DATA_DIR/sessionscope.db, resolves the secret key and listens.
    Result<void> start();
    // Ends SSE streams with [DONE], stops accepting, commits queued appends,
    // asks clients to disconnect. The database closes with the object.
    void stop();
    bool isRunning() const { return m_running; }

    quint16 port() const { return m_port; }
    // http://HOST:PORT, no trailing slash.
    QUrl baseUrl() const;
    // A secret: never log it.
    QString secretKey() const { return m_secretKey; }
    // Where the generated key lives (empty when it came from the config).
    QString secretKeyPath() const { return m_secretKeyPath; }
    bool secretKeyGenerated() const { return m_secretKeyGenerated; }
    QString databasePath() const;
    const ServerConfig &config() const { return m_config; }

    // Valid after a successful start().
    SessionService &sessions();
    StreamStore &streams();
    TokenService &tokens();
    Database &database();
    // For routes added by other parts of the server.
    HttpRouter &router();
    // The agent runtime, or null when the config turned it off.
    AgentRuntime *agentRuntime() const { return m_agent.get(); }
    // Chaos mode's injector (its spec and counts), or null when it is off.
    ChaosInjector *chaos() const { return m_chaos.get(); }

    int connectionCount() const;
    int subscriberCount() const;

Q_SIGNALS:
    void subscriberCountChanged(int count);

private:
    void registerChaosRoute();

    ServerConfig m_config;
    QString m_secretKey;
    QString m_secretKeyPath;
    bool m_secretKeyGenerated = false;
    quint16 m_port = 0;
    bool m_running = false;

    std::shared_ptr<ChaosInjector> m_chaos;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<SessionStore> m_store;
    std::unique_ptr<SessionService> m_sessions;
    std::unique_ptr<StreamStore> m_streams;
    std::unique_ptr<TokenService> m_tokens;
    std::unique_ptr<ApiAuth> m_auth;
    std::unique_ptr<RateLimiter> m_limiter;
    std::unique_ptr<ChannelRoutes> m_channelRoutes;
    std::unique_ptr<SessionsRoutes> m_sessionsRoutes;
    std::unique_ptr<RunsRoutes> m_runsRoutes;
    std::unique_ptr<HttpRouter> m_router;
    std::unique_ptr<AgentRuntime> m_agent;
    std::unique_ptr<DeploymentRoutes> m_deploymentRoutes;
};

} // namespace sessionscope
