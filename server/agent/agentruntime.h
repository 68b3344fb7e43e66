#pragma once

#include "net/result.h"
#include "net/streamrecord.h"
#include "server/agent/deploymentregistry.h"
#include "server/agent/transcriptstore.h"
#include "server/runlauncher.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

namespace sessionscope {

class AgentRunner;
class Database;
class SessionService;
class StreamStore;
class TokenService;

// The embedded server's agent runtime: a RunLauncher that pins new runs of
// the tasks it has versions for (chat-agent out of the box) to a deployed version and executes each live run with an AgentRunner on the
// server's event loop (timers and queued calls only, so HTTP never waits on
// an agent). One runner owns a session at a time: a run that takes over
// waits until the one before it has finished its turn.
class AgentRuntime : public QObject, public RunLauncher
{
    Q_OBJECT

public:
    AgentRuntime(Database &db, SessionService &sessions, StreamStore &streams, const TokenService *tokens,
                 QObject *parent = nullptr);
    ~AgentRuntime() override;

    // Creates the runtime's tables, loads the deployments (deploying the
    // built-in chat-agent on first start), installs itself as the session
    // service's run launcher and picks up the runs a previous process left
    // live (a turn cut by a restart is ended with an error record).
    Result<void> start();

    DeploymentRegistry &registry() { return m_registry; }
    SessionService &sessions() { return m_sessions; }
    StreamStore &streams() { return m_streams; }
    TranscriptStore &transcripts() { return m_transcripts; }
    const TokenService *tokens() const { return m_tokens; }

    // Overrides every version's reply rate (chunks/s; 0: no pacing; negative:
    // each version's own rate). For tests and the --agent-chunks-per-second flag.
    void setChunkRateOverride(double chunksPerSecond) { m_chunkRateOverride = chunksPerSecond; }
    double chunkRateOverride() const { return m_chunkRateOverride; }

    // Ends a live run with status CANCELED (a streaming turn is cut with an
    // abort chunk and still gets its turn-complete). 404 when not live here.
    Result<void> cancelRun(const QString &runId);

    // The runner executing `runId`, if it is live in this process.
    AgentRunner *runner(const QString &runId) const;
    int liveRunnerCount() const { return int(m_runners.size()); }

    // Whether runs of `task` are executed here: it has a deployed version.
    // Runs of other tasks are left as the plain server leaves them (QUEUED on
    // the default version), so clients can drive `.out` themselves.
    bool manages(const QString &task) const;

    // The stream key of a session's `.in`/`.out`, as the HTTP routes use it.
    static QString streamKey(const SessionRow &session);

    // RunLauncher
    QString versionForNewRun(const SessionRow &session, RunReason reason) override;
    void runStarted(const SessionRow &session, const RunRow &run, RunReason reason,
                    const QString &previousRunId) override;

Q_SIGNALS:
    void runFinished(const QString &runId, const QString &status);

private:
    void adopt(AgentRunner *runner, const QString &sessionId);
    void activateNext(const QString &sessionId);
    void onRunnerFinished(AgentRunner *runner, const QString &status);
    void onRecordsAppended(const QString &key, Channel channel);
    void onSessionClosed(const SessionRow &session);
    Result<void> recoverLiveRuns();

    Database &m_db;
    SessionService &m_sessions;
    StreamStore &m_streams;
    const TokenService *m_tokens;
    DeploymentRegistry m_registry;
    TranscriptStore m_transcripts;
    double m_chunkRateOverride = -1;
    bool m_started = false;

    QHash<QString, AgentRunner *> m_runners;                 // runId -> runner (active or queued)
    QHash<QString, QPointer<AgentRunner>> m_active;          // sessionId -> the runner that owns it
    QHash<QString, QList<QPointer<AgentRunner>>> m_queued;   // sessionId -> runners waiting their turn
    QHash<QString, QString> m_sessionByKey;                  // stream key -> sessionId
};

} // namespace sessionscope
