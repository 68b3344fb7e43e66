#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace sessionscope {

class Database;

enum class SessionStatus : quint8 { Active, Closed, Expired };

// One row of `sessions`. JSON columns are kept as the JSON text the API wrote.
struct SessionRow
{
    QString id;         // internal cuid; the list cursor
    QString friendlyId; // "session_" + id
    std::optional<QString> externalId;
    QString type;
    QString taskIdentifier;
    QByteArray triggerConfig = "{}"; // JSON object
    QString currentRunId;            // "run_..." or empty
    qint64 currentRunVersion = 0;    // optimistic-lock counter
    QStringList tags;
    std::optional<QByteArray> metadata; // JSON object, or none (null on the wire)
    std::optional<qint64> closedAt;
    std::optional<QString> closedReason;
    std::optional<qint64> expiresAt;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;

    // The key streams, tokens and waitpoints are addressed by: the externalId
    // when there is one, else the friendly id (as in the real webapp).
    QString addressingKey() const { return externalId.value_or(friendlyId); }
    bool isClosed() const { return closedAt.has_value(); }
    bool isExpired(qint64 nowMs) const { return !isClosed() && expiresAt && *expiresAt < nowMs; }
    SessionStatus status(qint64 nowMs) const;

    QJsonObject triggerConfigObject() const;
    QJsonObject metadataObject() const;

    static bool isFriendlyIdForm(QStringView idOrExternalId)
    {
        return idOrExternalId.startsWith(u"session_");
    }
};

// One row of `runs`: a run pinned to the version it started on.
struct RunRow
{
    QString id;        // "run_..."
    QString sessionId; // friendly id of the session it serves
    QString taskIdentifier;
    QString version;
    QString status = QStringLiteral("QUEUED");
    QStringList tags;
    QByteArray payload = "{}"; // JSON: the boot payload the run was triggered with
    std::optional<QByteArray> metadata;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;
    std::optional<qint64> startedAt;
    std::optional<qint64> finishedAt;

    bool isFinal() const { return isFinalStatus(status); }
    QJsonObject payloadObject() const;

    // The public run statuses of /api/v3/runs (protocol.md, "Run").
    static const QStringList &statuses();
    static bool isKnownStatus(QStringView status) { return statuses().contains(status); }
    // A run in a final status will not consume another record.
    static bool isFinalStatus(QStringView status);
};

// One SessionRun audit row: written each time a run takes over a session.
struct SessionRunRow
{
    QString id;        // "srun_..."
    QString sessionId; // friendly id
    QString runId;
    QString reason; // initial, continuation, upgrade, manual
    qint64 triggeredAt = 0;
};

struct SessionListQuery
{
    int pageSize = 20;
    QString after;  // forward cursor: sessions older than this id
    QString before; // backward cursor: sessions newer than this id
    QStringList types;
    QStringList tags; // any of
    QStringList taskIdentifiers;
    std::optional<QString> externalId;
    QList<SessionStatus> statuses;
    std::optional<qint64> periodMs; // created within the last periodMs
    std::optional<qint64> fromMs;
    std::optional<qint64> toMs;
};

struct SessionPage
{
    QList<SessionRow> rows; // newest first
    QString next;           // pass as page[after]; empty at the end
    QString previous;       // pass as page[before]; empty at the start
};

// SQL for sessions, runs and the SessionRun audit. Plain persistence: rules
// (idempotent create, the optimistic claim, closed is final) live in
// SessionService, which also owns the transactions.
class SessionStore
{
public:
    explicit SessionStore(Database &db);

    // By friendly id when it starts with "session_", else by externalId.
    Result<std::optional<SessionRow>> findSession(QStringView idOrExternalId);
    Result<std::optional<SessionRow>> findSessionByFriendlyId(QStringView friendlyId);
    Result<std::optional<SessionRow>> findSessionByExternalId(QStringView externalId);

    Result<void> insertSession(const SessionRow &row);
    // Writes the mutable columns (trigger config, tags, metadata, closed, expiry,
    // updated_at); id, friendly id and externalId never change.
    Result<void> updateSession(const SessionRow &row);
    // The optimistic claim: points the session at `newRunId` and bumps
    // current_run_version, only if the version (and, when given, the current
    // run) is still what the caller read. False when someone else moved first.
    Result<bool> claimRun(const QString &sessionId, qint64 expectedVersion,
                          const std::optional<QString> &expectedRunId, const QString &newRunId,
                          qint64 nowMs);

    Result<void> insertRun(const RunRow &row);
    Result<void> updateRun(const RunRow &row);
    Result<std::optional<RunRow>> findRun(QStringView runId);
    Result<QList<RunRow>> runsForSession(const QString &sessionFriendlyId);

    Result<void> insertSessionRun(const SessionRunRow &row);
    // Newest first.
    Result<QList<SessionRunRow>> sessionRuns(const QString &sessionFriendlyId);

    Result<SessionPage> listSessions(const SessionListQuery &query, qint64 nowMs);

private:
    Result<std::optional<SessionRow>> findSessionBy(const QString &sql, QStringView value);

    Database &m_db;
};

} // namespace sessionscope
