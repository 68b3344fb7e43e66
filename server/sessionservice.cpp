#include "server/sessionservice.h"

#include "server/database.h"
#include "server/idgenerator.h"
#include "server/wirejson.h"

#include <QDateTime>

namespace sessionscope {

namespace {

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

// The boot payload of a new run, as the webapp's triggerSessionRun builds it:
// basePayload, then idleTimeoutInSeconds, then runtime overrides. A run that
// follows another gets continuation/previousRunId and loses the sticky
// first-run fields so it waits for the next `.in` record.
Json bootPayload(const SessionRow &session, const QJsonObject &overrides,
                 const QString &previousRunId)
{
    const auto config = wirejson::parse(session.triggerConfig).value_or(Json::object());
    Json payload = config.contains("basePayload") && config["basePayload"].is_object()
                       ? config["basePayload"]
                       : Json::object();
    if (config.contains("idleTimeoutInSeconds"))
        payload["idleTimeoutInSeconds"] = config["idleTimeoutInSeconds"];
    for (auto it = overrides.begin(); it != overrides.end(); ++it) {
        const Json value = wirejson::fromQt(QJsonObject{{QStringLiteral("v"), it.value()}})["v"];
        payload[it.key().toStdString()] = value;
    }
    payload["sessionId"] = session.friendlyId.toStdString();
    if (!previousRunId.isEmpty()) {
        payload["continuation"] = true;
        payload["previousRunId"] = previousRunId.toStdString();
        payload.erase("message");
        payload.erase("messages");
        payload.erase("trigger");
    }
    return payload;
}

} // namespace

SessionService::SessionService(Database &db, SessionStore &store, QObject *parent)
    : QObject(parent), m_db(db), m_store(store), m_defaultLauncher(std::make_unique<RunLauncher>())
{
    m_launcher = m_defaultLauncher.get();
}

SessionService::~SessionService() = default;

void SessionService::setRunLauncher(RunLauncher *launcher)
{
    m_launcher = launcher ? launcher : m_defaultLauncher.get();
}

Error SessionService::httpError(int status, const QString &message)
{
    Error e = Error::make(message);
    e.httpStatus = status;
    return e;
}

template <typename T>
Result<T> SessionService::transaction(const std::function<Result<T>(AfterCommit &)> &body)
{
    if (auto r = m_db.begin(); !r)
        return r.error();
    AfterCommit after;
    Result<T> result = body(after);
    if (!result) {
        m_db.rollback();
        return result;
    }
    if (auto r = m_db.commit(); !r)
        return r.error();
    for (const auto &f : after)
        f();
    return result;
}

Result<std::optional<SessionRow>> SessionService::findSession(QStringView idOrExternalId)
{
    return m_store.findSession(idOrExternalId);
}

Result<SessionRow> SessionService::session(QStringView idOrExternalId)
{
    auto found = m_store.findSession(idOrExternalId);
    if (!found)
        return found.error();
    if (!found->has_value())
        return httpError(404, QStringLiteral("Session not found"));
    return **found;
}

Result<SessionRow> SessionService::reload(const SessionRow &session)
{
    return this->session(session.friendlyId);
}

Result<SessionPage> SessionService::listSessions(const SessionListQuery &query)
{
    return m_store.listSessions(query, nowMs());
}

Result<CreateSessionResult> SessionService::createSession(const CreateSessionParams &params)
{
    const qint64 now = nowMs();
    return transaction<CreateSessionResult>([&](AfterCommit &after) -> Result<CreateSessionResult> {
        CreateSessionResult out;
        std::optional<SessionRow> existing;
        if (params.externalId) {
            auto found = m_store.findSessionByExternalId(*params.externalId);
            if (!found)
                return found.error();
            existing = *found;
        }
        if (existing) {
            // Closed and expired are final: a run for them could never receive
            // input, so the caller must pick another externalId.
            if (existing->isClosed()) {
                return httpError(
                    409, QStringLiteral("Session is closed; use a different externalId to create a "
                                        "new session"));
            }
            if (existing->isExpired(now)) {
                return httpError(
                    409,
                    QStringLiteral("Session is expired; use a different externalId to create a "
                                   "new session"));
            }
            // The cached path writes the trigger config through, so a redeployed
            // config reaches the next run.
            existing->triggerConfig = params.triggerConfig;
            existing->updatedAt = now;
            if (auto r = m_store.updateSession(*existing); !r)
                return r.error();
            out.session = *existing;
            out.isCached = true;
        } else {
            if (params.expiresAt && *params.expiresAt < now) {
                // A run for it could never receive input. (The webapp writes the
                // row before refusing; nothing useful can be done with it, so
                // this server does not.)
                return httpError(
                    409,
                    QStringLiteral("Session is expired; use a different externalId to create a "
                                   "new session"));
            }
            SessionRow row;
            row.id = IdGenerator::cuid();
            row.friendlyId = QStringLiteral("session_") + row.id;
            row.externalId = params.externalId;
            row.type = params.type;
            row.taskIdentifier = params.taskIdentifier;
            row.triggerConfig = params.triggerConfig;
            row.tags = params.tags;
            row.metadata = params.metadata;
            row.expiresAt = params.expiresAt;
            row.createdAt = row.updatedAt = now;
            if (auto r = m_store.insertSession(row); !r)
                return r.error();
            out.session = row;
            const SessionRow created = row;
            after << [this, created] { Q_EMIT sessionCreated(created); };
        }
        auto ensured = ensureRunLocked(
            out.session, out.isCached ? RunReason::Continuation : RunReason::Initial, {}, after);
        if (!ensured)
            return ensured.error();
        out.run = ensured->run;
        return out;
    });
}

Result<EnsureRunResult> SessionService::ensureRunLocked(SessionRow &session, RunReason reason,
                                                        const QJsonObject &overrides,
                                                        AfterCommit &after)
{
    if (!session.currentRunId.isEmpty()) {
        auto current = m_store.findRun(session.currentRunId);
        if (!current)
            return current.error();
        if (current->has_value() && !(*current)->isFinal())
            return EnsureRunResult{**current, false};
    }
    // A copy: startRunLocked moves session.currentRunId on to the new run.
    const QString previousRunId = session.currentRunId;
    auto run = startRunLocked(session, reason, overrides, previousRunId, std::nullopt, after);
    if (!run)
        return run.error();
    return EnsureRunResult{*run, true};
}

Result<RunRow> SessionService::startRunLocked(SessionRow &session, RunReason reason,
                                              const QJsonObject &overrides,
                                              const QString &previousRunId,
                                              const std::optional<QString> &expectedRunId,
                                              AfterCommit &after)
{
    const qint64 now = nowMs();
    RunRow run;
    run.id = IdGenerator::friendly(u"run");
    run.sessionId = session.friendlyId;
    run.taskIdentifier = session.taskIdentifier;
    run.version = m_launcher->versionForNewRun(session, reason);
    run.status = QStringLiteral("QUEUED");
    const auto config = wirejson::parse(session.triggerConfig).value_or(Json::object());
    if (config.contains("tags"))
        run.tags = wirejson::toStringList(config["tags"]);
    run.payload = wirejson::dump(bootPayload(session, overrides, previousRunId));
    run.createdAt = run.updatedAt = now;
    if (auto r = m_store.insertRun(run); !r)
        return r.error();

    auto claimed =
        m_store.claimRun(session.id, session.currentRunVersion, expectedRunId, run.id, now);
    if (!claimed)
        return claimed.error();
    if (!*claimed) {
        // Only another process writing the same database can get here: every
        // claim in this process is read and written in one transaction.
        return httpError(409, QStringLiteral("Another writer changed the session's run; retry"));
    }
    session.currentRunId = run.id;
    ++session.currentRunVersion;
    session.updatedAt = now;

    SessionRunRow audit;
    audit.id = IdGenerator::friendly(u"srun");
    audit.sessionId = session.friendlyId;
    audit.runId = run.id;
    audit.reason = runReasonName(reason);
    audit.triggeredAt = now;
    if (auto r = m_store.insertSessionRun(audit); !r)
        return r.error();

    const SessionRow snapshot = session;
    after << [this, snapshot, run, reason, previousRunId] {
        m_launcher->runStarted(snapshot, run, reason, previousRunId);
        Q_EMIT runStarted(snapshot, run, reason, previousRunId);
    };
    return run;
}

Result<EnsureRunResult> SessionService::ensureRun(const SessionRow &session, RunReason reason,
                                                  const QJsonObject &payloadOverrides)
{
    return transaction<EnsureRunResult>([&](AfterCommit &after) -> Result<EnsureRunResult> {
        auto fresh = reload(session);
        if (!fresh)
            return fresh.error();
        return ensureRunLocked(*fresh, reason, payloadOverrides, after);
    });
}

Result<SwapRunResult> SessionService::endAndContinue(const SessionRow &session,
                                                     const QString &callingRunId, RunReason reason)
{
    return transaction<SwapRunResult>([&](AfterCommit &after) -> Result<SwapRunResult> {
        auto fresh = reload(session);
        if (!fresh)
            return fresh.error();
        if (fresh->isClosed())
            return httpError(400, QStringLiteral("Cannot end-and-continue a closed session"));
        if (fresh->isExpired(nowMs()))
            return httpError(400, QStringLiteral("Cannot end-and-continue an expired session"));
        auto calling = m_store.findRun(callingRunId);
        if (!calling)
            return calling.error();
        if (!calling->has_value())
            return httpError(404, QStringLiteral("callingRunId not found in this environment"));
        if (fresh->currentRunId != callingRunId) {
            // Someone else already moved the session on: surface the winner.
            if (fresh->currentRunId.isEmpty())
                return httpError(500, QStringLiteral("Failed to swap session run"));
            return SwapRunResult{fresh->currentRunId, false};
        }
        auto run = startRunLocked(*fresh, reason, {}, callingRunId, callingRunId, after);
        if (!run)
            return run.error();
        return SwapRunResult{run->id, true};
    });
}

Result<SessionRow> SessionService::updateSession(const SessionRow &session,
                                                 const SessionPatch &patch)
{
    return transaction<SessionRow>([&](AfterCommit &after) -> Result<SessionRow> {
        auto fresh = reload(session);
        if (!fresh)
            return fresh.error();
        if (patch.tags)
            fresh->tags = *patch.tags;
        if (patch.metadata)
            fresh->metadata = *patch.metadata;
        fresh->updatedAt = nowMs();
        if (auto r = m_store.updateSession(*fresh); !r)
            return r.error();
        const SessionRow updated = *fresh;
        after << [this, updated] { Q_EMIT sessionUpdated(updated); };
        return *fresh;
    });
}

Result<SessionRow> SessionService::closeSession(const SessionRow &session,
                                                const std::optional<QString> &reason)
{
    return transaction<SessionRow>([&](AfterCommit &after) -> Result<SessionRow> {
        auto fresh = reload(session);
        if (!fresh)
            return fresh.error();
        if (fresh->isClosed())
            return *fresh;
        const qint64 now = nowMs();
        fresh->closedAt = now;
        fresh->closedReason = reason;
        fresh->updatedAt = now;
        if (auto r = m_store.updateSession(*fresh); !r)
            return r.error();
        const SessionRow closed = *fresh;
        after << [this, closed] { Q_EMIT sessionClosed(closed); };
        return *fresh;
    });
}

Result<RunRow> SessionService::run(QStringView runId)
{
    auto found = m_store.findRun(runId);
    if (!found)
        return found.error();
    if (!found->has_value())
        return httpError(404, QStringLiteral("Run not found"));
    return **found;
}

Result<RunRow> SessionService::updateRun(RunRow run)
{
    if (!RunRow::isKnownStatus(run.status))
        return httpError(400, QStringLiteral("Unknown run status %1").arg(run.status));
    run.updatedAt = nowMs();
    return transaction<RunRow>([&](AfterCommit &after) -> Result<RunRow> {
        if (auto r = m_store.updateRun(run); !r)
            return r.error();
        after << [this, run] { Q_EMIT runUpdated(run); };
        return run;
    });
}

Result<RunRow> SessionService::setRunStatus(QStringView runId, const QString &status)
{
    auto found = run(runId);
    if (!found)
        return found;
    RunRow row = *found;
    const qint64 now = nowMs();
    row.status = status;
    if (!row.startedAt && (status == u"EXECUTING" || status == u"WAITING"))
        row.startedAt = now;
    if (RunRow::isFinalStatus(status) && !row.finishedAt)
        row.finishedAt = now;
    return updateRun(row);
}

Result<QList<RunRow>> SessionService::runsForSession(const SessionRow &session)
{
    return m_store.runsForSession(session.friendlyId);
}

Result<QList<SessionRunRow>> SessionService::sessionRuns(const SessionRow &session)
{
    return m_store.sessionRuns(session.friendlyId);
}

} // namespace sessionscope
