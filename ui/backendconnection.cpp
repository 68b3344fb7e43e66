#include "ui/backendconnection.h"

#include "net/observedhistory.h"
#include "net/sessionsclient.h"
#include "server/agent/agentruntime.h"
#include "server/sessionserver.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFutureWatcher>
#include <QStandardPaths>
#include <QtConcurrent>

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
    openObservedHistory();
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

QString BackendConnection::journalPathFor(const QUrl &baseUrl)
{
    const QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    const QString root = qEnvironmentVariable("SESSIONSCOPE_DATA_DIR", base);
    const QByteArray key = QCryptographicHash::hash(baseUrl.toString(QUrl::StripTrailingSlash).toUtf8(),
                                                    QCryptographicHash::Sha1)
                               .toHex()
                               .left(16);
    return QDir(root).filePath(QStringLiteral("observed/%1.jsonl").arg(QString::fromLatin1(key)));
}

void BackendConnection::openObservedHistory()
{
    if (m_history) {
        m_history->deleteLater();
        m_history = nullptr;
        Q_EMIT observedHistoryChanged(nullptr);
    }
    // The journal is read on a worker thread; the history then moves to this
    // one, where the client's signals reach it.
    const int generation = ++m_historyGeneration;
    const QString path = journalPathFor(m_profile.baseUrl);
    QThread *home = thread();
    struct Opened
    {
        ObservedHistory *history = nullptr;
        QString error;
    };
    auto *watcher = new QFutureWatcher<Opened>(this);
    connect(watcher, &QFutureWatcher<Opened>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        const Opened opened = watcher->result();
        if (generation != m_historyGeneration || !m_client) {
            delete opened.history;
            return;
        }
        m_history = opened.history;
        m_history->setParent(this);
        if (!opened.error.isEmpty())
            Q_EMIT m_history->journalError(opened.error);
        m_history->attach(m_client);
        Q_EMIT observedHistoryChanged(m_history);
    });
    watcher->setFuture(QtConcurrent::run([path, home] {
        auto *history = new ObservedHistory(path);
        Opened out;
        if (auto r = history->open(); !r)
            out.error = r.error().message;
        history->moveToThread(home);
        out.history = history;
        return out;
    }));
}

void BackendConnection::disconnectBackend()
{
    if (m_history) {
        m_history->deleteLater();
        m_history = nullptr;
        ++m_historyGeneration;
        Q_EMIT observedHistoryChanged(nullptr);
    }
    if (m_client) {
        m_client->deleteLater();
        m_client = nullptr;
        Q_EMIT clientChanged(nullptr);
    }
    if (m_server) {
        m_server->stop();
        m_server.reset();
    }
    if (m_state != State::Disconnected)
        setState(State::Disconnected);
}

ObservedHistory *BackendConnection::observedHistory() const
{
    return m_history.data();
}

AgentRuntime *BackendConnection::agentRuntime() const
{
    return m_server ? m_server->agentRuntime() : nullptr;
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
