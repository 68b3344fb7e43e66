#pragma once

#include "net/connectionprofile.h"
#include "net/observedhistory.h"
#include "net/result.h"

#include <QObject>
#include <QPointer>
#include <QString>
#include <QThread>

#include <memory>

namespace sessionscope {

class AgentRuntime;
class ObservedHistory;
class SessionServer;
class SessionsClient;

// The backend the console talks to: the embedded SessionServer started
// in-process, or a profile (cloud, self-hosted) given on the command line or
// picked in the Connections dialog. Owns the REST client and the thread that
// subscriptions parse SSE on, so the UI thread never does.
class BackendConnection : public QObject
{
    Q_OBJECT

public:
    enum class State { Disconnected, Connecting, Connected, Failed };
    Q_ENUM(State)

    explicit BackendConnection(QObject *parent = nullptr);
    ~BackendConnection() override;

    // Starts the embedded server on a free loopback port with its data in
    // `dataDir`, then connects to it with its own secret key.
    Result<void> startEmbedded(const QString &dataDir);
    // Connects to another backend; the profile carries its secret key.
    void connectTo(const ConnectionProfile &profile);
    void disconnectBackend();

    State state() const { return m_state; }
    QString stateText() const;
    // "embedded server at http://127.0.0.1:40123" or the profile's name and URL.
    QString describe() const;
    // The last failure in the server's words, empty when none.
    QString lastError() const { return m_lastError; }

    bool isEmbedded() const { return m_server != nullptr; }
    const ConnectionProfile &profile() const { return m_profile; }
    SessionsClient *client() const { return m_client; }
    SessionServer *embeddedServer() const { return m_server.get(); }
    // The agent runtime this connection started because the embedded server
    // had none installed; null when the server runs its own.
    AgentRuntime *agentRuntime() const;
    QString dataDir() const { return m_dataDir; }
    // What this console observed of the connected backend's runs and
    // upgrades (the Runs and Upgrade audit tabs fall back to it where the
    // backend has no /runs). Null until its journal has been read.
    ObservedHistory *observedHistory() const;
    // The journal of a backend: one file per base URL under the data folder.
    static QString journalPathFor(const QUrl &baseUrl);
    // Where subscriptions live; started on first use.
    QThread *networkThread();

    static QString stateName(State state);
    // The app's data folder, or SESSIONSCOPE_DATA_DIR when set.
    static QString defaultDataDir();

Q_SIGNALS:
    void stateChanged(sessionscope::BackendConnection::State state, const QString &detail);
    void clientChanged(sessionscope::SessionsClient *client);
    void observedHistoryChanged(sessionscope::ObservedHistory *history);

private:
    void setState(State state, const QString &detail = {});
    void probe();
    void openObservedHistory();

    std::unique_ptr<SessionServer> m_server;
    QPointer<SessionsClient> m_client;
    QPointer<ObservedHistory> m_history;
    int m_historyGeneration = 0;
    ConnectionProfile m_profile;
    QString m_dataDir;
    QString m_lastError;
    State m_state = State::Disconnected;
    QThread m_networkThread;
};

} // namespace sessionscope
