#pragma once

#include "net/result.h"
#include "server/runlauncher.h"
#include "server/sessionstore.h"

#include <QJsonObject>
#include <QObject>

#include <functional>
#include <memory>
#include <optional>

namespace sessionscope {

class Database;

struct CreateSessionParams
{
    QString type;
    QString taskIdentifier;
    std::optional<QString> externalId;
    QByteArray triggerConfig = "{\"basePayload\":{}}"; // JSON object, already validated
    QStringList tags;
    std::optional<QByteArray> metadata; // JSON object
    std::optional<qint64> expiresAt;
};

struct CreateSessionResult
{
    SessionRow session;
    RunRow run;
    bool isCached = false;
};

struct EnsureRunResult
{
    RunRow run;
    bool triggered = false; // false: the current run was alive and is reused
};

struct SwapRunResult
{
    QString runId;
    bool swapped = false;
};

// What a PATCH may change. metadata: nullopt leaves it, an empty inner
// optional clears it (null on the wire).
struct SessionPatch
{
    std::optional<QStringList> tags;
    std::optional<std::optional<QByteArray>> metadata;
};

// The session rules, shared by the HTTP routes and in-process callers (the
// desktop app, the agent runtime): idempotent create on externalId, closed is
// final, one live run per session claimed optimistically on
// currentRunVersion, and a SessionRun audit row for every takeover. Every
// mutation is one SQLite transaction, committed before the call returns.
class SessionService : public QObject
{
    Q_OBJECT

public:
    SessionService(Database &db, SessionStore &store, QObject *parent = nullptr);
    ~SessionService() override;

    // Not owned. nullptr restores the built-in launcher (QUEUED rows on the
    // default version).
    void setRunLauncher(RunLauncher *launcher);
    RunLauncher *runLauncher() const { return m_launcher; }
    // The built-in launcher, e.g. to change its default version label.
    RunLauncher &defaultRunLauncher() { return *m_defaultLauncher; }

    // 201/200 semantics: isCached when a live session with the externalId
    // exists (its triggerConfig is refreshed for future runs). 409 when that
    // session is closed or expired.
    Result<CreateSessionResult> createSession(const CreateSessionParams &params);

    // A 404 Error when there is no such session.
    Result<SessionRow> session(QStringView idOrExternalId);
    Result<std::optional<SessionRow>> findSession(QStringView idOrExternalId);
    Result<SessionPage> listSessions(const SessionListQuery &query);

    Result<SessionRow> updateSession(const SessionRow &session, const SessionPatch &patch);
    // Idempotent: closing a closed session keeps the first closedAt/closedReason.
    Result<SessionRow> closeSession(const SessionRow &session,
                                    const std::optional<QString> &reason);

    // Makes sure the session has a live run: reuses the current run unless it
    // is gone (missing or final), else triggers a new one with `reason`
    // (continuation runs get continuation/previousRunId in their payload).
    Result<EnsureRunResult> ensureRun(const SessionRow &session, RunReason reason,
                                      const QJsonObject &payloadOverrides = {});
    // end-and-continue: a fresh run takes over if `callingRunId` is still the
    // current run; otherwise {currentRunId, swapped:false}. 400 on a closed or
    // expired session, 404 when callingRunId is unknown.
    Result<SwapRunResult> endAndContinue(const SessionRow &session, const QString &callingRunId,
                                         RunReason reason);

    Result<RunRow> run(QStringView runId);
    // Writes version, status, tags, metadata and timestamps of an existing run.
    Result<RunRow> updateRun(RunRow run);
    // Moves a run to `status`, stamping startedAt when it starts executing and
    // finishedAt when the status is final.
    Result<RunRow> setRunStatus(QStringView runId, const QString &status);
    Result<QList<RunRow>> runsForSession(const SessionRow &session);
    // The SessionRun audit rows, newest first.
    Result<QList<SessionRunRow>> sessionRuns(const SessionRow &session);

    static Error httpError(int status, const QString &message);

Q_SIGNALS:
    void sessionCreated(const sessionscope::SessionRow &session);
    void sessionUpdated(const sessionscope::SessionRow &session);
    void sessionClosed(const sessionscope::SessionRow &session);
    void runStarted(const sessionscope::SessionRow &session, const sessionscope::RunRow &run,
                    sessionscope::RunReason reason, const QString &previousRunId);
    void runUpdated(const sessionscope::RunRow &run);

private:
    using AfterCommit = QList<std::function<void()>>;

    Result<EnsureRunResult> ensureRunLocked(SessionRow &session, RunReason reason,
                                            const QJsonObject &overrides, AfterCommit &after);
    Result<RunRow> startRunLocked(SessionRow &session, RunReason reason,
                                  const QJsonObject &overrides, const QString &previousRunId,
                                  const std::optional<QString> &expectedRunId, AfterCommit &after);
    Result<SessionRow> reload(const SessionRow &session);
    // Runs `body` in one transaction; `after` runs once it is committed.
    template <typename T>
    Result<T> transaction(const std::function<Result<T>(AfterCommit &)> &body);

    Database &m_db;
    SessionStore &m_store;
    std::unique_ptr<RunLauncher> m_defaultLauncher;
    RunLauncher *m_launcher = nullptr;
};

} // namespace sessionscope
