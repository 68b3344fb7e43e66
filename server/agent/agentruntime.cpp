#include "server/agent/agentruntime.h"

#include "server/agent/agentrunner.h"
#include "server/database.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace sessionscope {

AgentRuntime::AgentRuntime(Database &db, SessionService &sessions, StreamStore &streams, const TokenService *tokens,
                           QObject *parent)
    : QObject(parent),
      m_db(db),
      m_sessions(sessions),
      m_streams(streams),
      m_tokens(tokens),
      m_transcripts(db)
{
}

AgentRuntime::~AgentRuntime()
{
    // Runners stop their timers and leave their runs live in the database, so
    // the next start() picks them up where they were.
    if (m_started && m_sessions.runLauncher() == this)
        m_sessions.setRunLauncher(nullptr);
}

QString AgentRuntime::streamKey(const SessionRow &session)
{
    return session.addressingKey();
}

Result<void> AgentRuntime::start()
{
    if (m_started)
        return {};
    if (auto r = m_transcripts.prepare(); !r)
        return r;
    if (auto r = m_registry.attachDatabase(m_db.db().connectionName()); !r)
        return r;
    if (auto r = m_registry.ensureBuiltins(); !r)
        return r;
    connect(&m_registry, &DeploymentRegistry::deployed, this, [this](const AgentVersion &version) {
        // A runner that starts may finish (and leave m_runners) at once.
        QList<QPointer<AgentRunner>> runners;
        for (AgentRunner *runner : std::as_const(m_runners))
            runners << runner;
        for (const QPointer<AgentRunner> &runner : runners) {
            if (runner)
                runner->versionDeployed(version);
        }
    });
    connect(&m_streams, &StreamStore::recordsAppended, this,
            [this](const QString &key, Channel channel, const QList<StreamRecord> &) { onRecordsAppended(key, channel); });
    connect(&m_sessions, &SessionService::sessionClosed, this, &AgentRuntime::onSessionClosed);
    m_sessions.setRunLauncher(this);
    m_started = true;
    return recoverLiveRuns();
}

Result<void> AgentRuntime::recoverLiveRuns()
{
    auto live = m_transcripts.liveRuns();
    if (!live)
        return live.error();
    for (const LiveAgentRun &entry : live.value()) {
        auto run = m_sessions.run(entry.runId);
        auto session = m_sessions.session(entry.sessionId);
        if (!run || !session || run->isFinal()) {
            if (auto r = m_transcripts.markEnded(entry.runId); !r)
                return r;
            continue;
        }
        if (session->isClosed() || session->currentRunId != run->id) {
            // Gone while the server was down: close the books on it.
            if (auto r = m_sessions.setRunStatus(run->id, QStringLiteral("COMPLETED")); !r)
                return r.error();
            if (auto r = m_transcripts.markEnded(entry.runId); !r)
                return r;
            continue;
        }
        const QString reason = QJsonDocument::fromJson(run->metadata.value_or(QByteArray()))
                                   .object()
                                   .value(QLatin1String("agent"))
                                   .toObject()
                                   .value(QLatin1String("reason"))
                                   .toString();
        const QString previous = run->payloadObject().value(QLatin1String("previousRunId")).toString();
        auto *runner = new AgentRunner(*this, session.value(), run.value(),
                                       reason.isEmpty() ? RunReason::Initial : runReasonFromName(reason), previous,
                                       true, this);
        adopt(runner, session->friendlyId);
    }
    return {};
}

QString AgentRuntime::versionForNewRun(const SessionRow &session, RunReason reason)
{
    if (!manages(session.taskIdentifier))
        return m_sessions.defaultRunLauncher().versionForNewRun(session, reason);
    const QString lock = session.triggerConfigObject().value(QLatin1String("lockToVersion")).toString();
    const auto version = m_registry.resolve(session.taskIdentifier, lock);
    if (version)
        return version->label;
    // Locked to a label not deployed yet: the run is PENDING_VERSION until it is.
    return lock;
}

bool AgentRuntime::manages(const QString &task) const
{
    return !m_registry.versions(task).isEmpty();
}

void AgentRuntime::runStarted(const SessionRow &session, const RunRow &run, RunReason reason,
                              const QString &previousRunId)
{
    // A task without any deployed version is not an agent of ours: its runs
    // stay QUEUED rows, as on a server without the runtime.
    if (!manages(session.taskIdentifier))
        return;
    if (auto r = m_transcripts.markLive(run.id, session.friendlyId); !r)
        qWarning("agent: run %s: %s", qPrintable(run.id), qPrintable(r.error().message));
    auto *runner = new AgentRunner(*this, session, run, reason, previousRunId, false, this);
    adopt(runner, session.friendlyId);
}

void AgentRuntime::adopt(AgentRunner *runner, const QString &sessionId)
{
    m_runners.insert(runner->runId(), runner);
    m_sessionByKey.insert(runner->streamKey(), sessionId);
    connect(runner, &AgentRunner::finished, this,
            [this, runner](const QString &, const QString &status) { onRunnerFinished(runner, status); });
    // Queue first: superseding the active runner may finish it right away,
    // which activates the next one.
    m_queued[sessionId].append(runner);
    if (AgentRunner *active = m_active.value(sessionId))
        active->supersede();
    else
        activateNext(sessionId);
}

void AgentRuntime::activateNext(const QString &sessionId)
{
    if (m_active.value(sessionId))
        return;
    QList<QPointer<AgentRunner>> queue = m_queued.take(sessionId);
    QPointer<AgentRunner> next;
    while (!queue.isEmpty() && !next)
        next = queue.takeLast();
    // Runs that were overtaken before they started end without consuming anything.
    for (const QPointer<AgentRunner> &overtaken : queue) {
        if (overtaken)
            overtaken->supersede();
    }
    if (!next)
        return;
    m_active.insert(sessionId, next);
    QMetaObject::invokeMethod(next, &AgentRunner::start, Qt::QueuedConnection);
}

void AgentRuntime::onRunnerFinished(AgentRunner *runner, const QString &status)
{
    const QString runId = runner->runId();
    const QString sessionId = runner->sessionId();
    m_runners.remove(runId);
    auto queueIt = m_queued.find(sessionId);
    if (queueIt != m_queued.end())
        queueIt->removeAll(QPointer<AgentRunner>(runner));
    const bool wasActive = m_active.value(sessionId) == runner;
    if (wasActive)
        m_active.remove(sessionId);
    runner->deleteLater();
    Q_EMIT runFinished(runId, status);
    if (wasActive)
        activateNext(sessionId);
}

void AgentRuntime::onRecordsAppended(const QString &key, Channel channel)
{
    if (channel != Channel::In)
        return;
    const auto it = m_sessionByKey.constFind(key);
    if (it == m_sessionByKey.constEnd())
        return;
    if (AgentRunner *active = m_active.value(*it))
        active->inputArrived();
}

void AgentRuntime::onSessionClosed(const SessionRow &session)
{
    for (const QPointer<AgentRunner> &queued : m_queued.value(session.friendlyId)) {
        if (queued)
            queued->supersede();
    }
    if (AgentRunner *active = m_active.value(session.friendlyId))
        active->sessionClosed();
}

Result<void> AgentRuntime::cancelRun(const QString &runId)
{
    AgentRunner *runner = m_runners.value(runId);
    if (!runner)
        return SessionService::httpError(404, QStringLiteral("Run %1 is not live in this server").arg(runId));
    runner->cancel();
    return {};
}

AgentRunner *AgentRuntime::runner(const QString &runId) const
{
    return m_runners.value(runId);
}

} // namespace sessionscope
