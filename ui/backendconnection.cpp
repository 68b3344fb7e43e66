#include "ui/backendconnection.h"

#include "net/sessionsclient.h"
#include "server/agent/agentruntime.h"
#include "server/sessionserver.h"
#include "server/sessionservice.h"

#include <QDir>
#include <QStandardPaths>

namespace sessionscope {

BackendConnection::BackendConnection(QObject *parent) : QObject(parent)
{
    m_networkThread.setObjectName(QStringLiteral("sessionscope-network"));
}

BackendConnection::~BackendConnection()
{
    disconnectBackend();
    m_networkThread.quit();
    m_networkThread.wait();
}

QThread *BackendConnection::networkThread()
{
    if (!m_networkThread.isRunning())
        m_networkThread.start();
    return &m_networkThread;
}

QString BackendConnection::defaultDataDir()
{
    const QString fromEnv = qEnvironmentVariable("SESSIONSCOPE_DATA_DIR");
    if (!fromEnv.isEmpty())
        return fromEnv;
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/embedded");
}

Result<void> BackendConnection::startEmbedded(const QString &dataDir)
{
    disconnectBackend();
    setState(State::Connecting, tr("starting the embedded server"));
    if (!QDir().mkpath(dataDir)) {
        Error e = Error::make(tr("Cannot create the data folder %1").arg(dataDir));
        m_lastError = e.message;
        setState(State::Failed, e.message);
        return e;
    }
    ServerConfig config;
    config.dataDir = dataDir;
    auto server = std::make_unique<SessionServer>(config);
    if (auto started = server->start(); !started) {
        m_lastError = started.error().message;
        setState(State::Failed, m_lastError);
        return started.error();
    }
    // Without an agent the embedded backend would never answer: start the
    // runtime here unless the server already installed its own launcher.
    if (server->sessions().runLauncher() == &server->sessions().defaultRunLauncher()) {
        auto runtime = std::make_unique<AgentRuntime>(server->database(), server->sessions(), server->streams(),
                                                      &server->tokens());
        if (auto started = runtime->start(); !started) {
            m_lastError = started.error().message;
            setState(State::Failed, m_lastError);
            return started.error();
        }
        m_runtime = std::move(runtime);
    }
    m_server = std::move(server);
    m_dataDir = dataDir;
    ConnectionProfile profile = ConnectionProfile::embedded(tr("Embedded"), m_server->baseUrl());
    profile.secretKey = m_server->secretKey();
    connectTo(profile);
    return {};
}

void BackendConnection::connectTo(const ConnectionProfile &profile)
{
    if (m_client) {
        m_client->deleteLater();
        m_client = nullptr;
    }
    if (profile.kind != BackendKind::Embedded || !m_server) {
        // A different backend: the embedded server is no longer what we show.
        if (m_server && profile.baseUrl != m_server->baseUrl()) {
            m_server->stop();
            m_runtime.reset();
            m_server.reset();
        }
    }
    m_profile = profile;
    m_lastError.clear();
    if (auto valid = profile.validate(); !valid) {
        m_lastError = valid.error().message;
        setState(State::Failed, m_lastError);
        return;
    }
    m_client = new SessionsClient(profile, this);
    Q_EMIT clientChanged(m_client);
    setState(State::Connecting, tr("checking %1").arg(profile.baseUrl.toString()));
    probe();
}

void BackendConnection::probe()
{
    SessionListFilter filter;
    filter.pageSize = 1;
    QPointer<SessionsClient> client = m_client;
    m_client->listSessions(filter, this, [this, client](Result<SessionListPage> page) {
        if (client != m_client)
            return;
        if (page.ok()) {
            setState(State::Connected);
            return;
        }
        m_lastError = page.error().message;
        setState(State::Failed, m_lastError);
    });
}

void BackendConnection::disconnectBackend()
{
    if (m_client) {
        m_client->deleteLater();
        m_client = nullptr;
        Q_EMIT clientChanged(nullptr);
    }
    if (m_server) {
        m_server->stop();
        m_runtime.reset();
        m_server.reset();
    }
    if (m_state != State::Disconnected)
        setState(State::Disconnected);
}

void BackendConnection::setState(State state, const QString &detail)
{
    m_state = state;
    Q_EMIT stateChanged(state, detail);
}

QString BackendConnection::stateName(State state)
{
    switch (state) {
    case State::Disconnected: return tr("disconnected");
    case State::Connecting: return tr("connecting");
    case State::Connected: return tr("connected");
    case State::Failed: return tr("failed");
    }
    return {};
}

QString BackendConnection::stateText() const
{
    if (m_state == State::Failed && !m_lastError.isEmpty())
        return tr("failed: %1").arg(m_lastError);
    return stateName(m_state);
}

QString BackendConnection::describe() const
{
    if (m_server)
        return tr("embedded server at %1").arg(m_server->baseUrl().toString());
    if (m_profile.name.isEmpty())
        return tr("no backend");
    return tr("%1 (%2, %3)")
        .arg(m_profile.name, ConnectionProfile::kindName(m_profile.kind), m_profile.baseUrl.toString());
}

} // namespace sessionscope
