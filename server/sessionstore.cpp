#include "server/sessionstore.h"

#include "server/database.h"
#include "server/wirejson.h"

#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>

namespace sessionscope {

namespace {

// Column lists spliced into the SQL at compile time, so each statement is one
// constant string (it keys the prepared-statement cache on every call).
#define SESSION_COLUMNS                                                                            \
    "id, friendly_id, external_id, type, task_identifier, trigger_config, current_run_id, "        \
    "current_run_version, tags, metadata, closed_at, closed_reason, expires_at, created_at, "      \
    "updated_at"
#define RUN_COLUMNS                                                                                \
    "id, session_id, task_identifier, version, status, tags, payload, metadata, created_at, "      \
    "updated_at, started_at, finished_at"

const QString kSessionColumns = QStringLiteral(SESSION_COLUMNS);

template <typename T> QVariant opt(const std::optional<T> &value)
{
    return value ? QVariant::fromValue(*value) : QVariant();
}

std::optional<qint64> optInt(const QVariant &v)
{
    return v.isNull() ? std::nullopt : std::optional<qint64>(v.toLongLong());
}

std::optional<QString> optString(const QVariant &v)
{
    return v.isNull() ? std::nullopt : std::optional<QString>(v.toString());
}

std::optional<QByteArray> optBytes(const QVariant &v)
{
    return v.isNull() ? std::nullopt : std::optional<QByteArray>(v.toByteArray());
}

QString tagsText(const QStringList &tags)
{
    return QString::fromUtf8(wirejson::dump(wirejson::stringArray(tags)));
}

QStringList tagsFrom(const QVariant &v)
{
    const auto parsed = wirejson::parse(v.toByteArray());
    return parsed ? wirejson::toStringList(*parsed) : QStringList();
}

SessionRow sessionFrom(const QSqlQuery &q)
{
    SessionRow row;
    row.id = q.value(0).toString();
    row.friendlyId = q.value(1).toString();
    row.externalId = optString(q.value(2));
    row.type = q.value(3).toString();
    row.taskIdentifier = q.value(4).toString();
    row.triggerConfig = q.value(5).toByteArray();
    row.currentRunId = q.value(6).toString();
    row.currentRunVersion = q.value(7).toLongLong();
    row.tags = tagsFrom(q.value(8));
    row.metadata = optBytes(q.value(9));
    row.closedAt = optInt(q.value(10));
    row.closedReason = optString(q.value(11));
    row.expiresAt = optInt(q.value(12));
    row.createdAt = q.value(13).toLongLong();
    row.updatedAt = q.value(14).toLongLong();
    return row;
}

RunRow runFrom(const QSqlQuery &q)
{
    RunRow row;
    row.id = q.value(0).toString();
    row.sessionId = q.value(1).toString();
    row.taskIdentifier = q.value(2).toString();
    row.version = q.value(3).toString();
    row.status = q.value(4).toString();
    row.tags = tagsFrom(q.value(5));
    row.payload = q.value(6).toByteArray();
    row.metadata = optBytes(q.value(7));
    row.createdAt = q.value(8).toLongLong();
    row.updatedAt = q.value(9).toLongLong();
    row.startedAt = optInt(q.value(10));
    row.finishedAt = optInt(q.value(11));
    return row;
}

QJsonObject objectFrom(const QByteArray &json)
{
    return QJsonDocument::fromJson(json).object();
}

} // namespace

SessionStatus SessionRow::status(qint64 nowMs) const
{
    if (isClosed())
        return SessionStatus::Closed;
    if (isExpired(nowMs))
        return SessionStatus::Expired;
    return SessionStatus::Active;
}

QJsonObject SessionRow::triggerConfigObject() const
{
    return objectFrom(triggerConfig);
}

QJsonObject SessionRow::metadataObject() const
{
    return metadata ? objectFrom(*metadata) : QJsonObject();
}

QJsonObject RunRow::payloadObject() const
{
    return objectFrom(payload);
}

const QStringList &RunRow::statuses()
{
    static const QStringList all = {
        QStringLiteral("PENDING_VERSION"), QStringLiteral("QUEUED"),  QStringLiteral("DEQUEUED"),
        QStringLiteral("EXECUTING"),       QStringLiteral("WAITING"), QStringLiteral("COMPLETED"),
        QStringLiteral("CANCELED"),        QStringLiteral("FAILED"),  QStringLiteral("CRASHED"),
        QStringLiteral("SYSTEM_FAILURE"),  QStringLiteral("DELAYED"), QStringLiteral("EXPIRED"),
        QStringLiteral("TIMED_OUT"),
    };
    return all;
}

bool RunRow::isFinalStatus(QStringView status)
{
    return status == u"COMPLETED" || status == u"CANCELED" || status == u"FAILED" ||
           status == u"CRASHED" || status == u"SYSTEM_FAILURE" || status == u"EXPIRED" ||
           status == u"TIMED_OUT";
}

SessionStore::SessionStore(Database &db) : m_db(db) {}

Result<std::optional<SessionRow>> SessionStore::findSessionBy(const QString &sql, QStringView value)
{
    auto q = m_db.run(sql, {value.toString()});
    if (!q)
        return q.error();
    std::optional<SessionRow> row;
    if ((*q)->next())
        row = sessionFrom(**q);
    (*q)->finish();
    return row;
}

Result<std::optional<SessionRow>> SessionStore::findSession(QStringView idOrExternalId)
{
    return SessionRow::isFriendlyIdForm(idOrExternalId) ? findSessionByFriendlyId(idOrExternalId)
                                                        : findSessionByExternalId(idOrExternalId);
}

Result<std::optional<SessionRow>> SessionStore::findSessionByFriendlyId(QStringView friendlyId)
{
    return findSessionBy(
        QStringLiteral("SELECT " SESSION_COLUMNS " FROM sessions WHERE friendly_id = ?"),
        friendlyId);
}

Result<std::optional<SessionRow>> SessionStore::findSessionByExternalId(QStringView externalId)
{
    return findSessionBy(
        QStringLiteral("SELECT " SESSION_COLUMNS " FROM sessions WHERE external_id = ?"),
        externalId);
}

Result<void> SessionStore::insertSession(const SessionRow &row)
{
    auto q = m_db.run(QStringLiteral("INSERT INTO sessions(" SESSION_COLUMNS
                                     ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
                      {row.id, row.friendlyId, opt(row.externalId), row.type, row.taskIdentifier,
                       QString::fromUtf8(row.triggerConfig),
                       row.currentRunId.isEmpty() ? QVariant() : QVariant(row.currentRunId),
                       row.currentRunVersion, tagsText(row.tags),
                       row.metadata ? QVariant(QString::fromUtf8(*row.metadata)) : QVariant(),
                       opt(row.closedAt), opt(row.closedReason), opt(row.expiresAt), row.createdAt,
                       row.updatedAt});
    if (!q)
        return q.error();
    return {};
}

Result<void> SessionStore::updateSession(const SessionRow &row)
{
    auto q = m_db.run(
        QStringLiteral("UPDATE sessions SET trigger_config=?, tags=?, metadata=?, closed_at=?, "
                       "closed_reason=?, expires_at=?, updated_at=? WHERE id=?"),
        {QString::fromUtf8(row.triggerConfig), tagsText(row.tags),
         row.metadata ? QVariant(QString::fromUtf8(*row.metadata)) : QVariant(), opt(row.closedAt),
         opt(row.closedReason), opt(row.expiresAt), row.updatedAt, row.id});
    if (!q)
        return q.error();
    return {};
}

Result<bool> SessionStore::claimRun(const QString &sessionId, qint64 expectedVersion,
                                    const std::optional<QString> &expectedRunId,
                                    const QString &newRunId, qint64 nowMs)
{
    Result<QSqlQuery *> q =
        expectedRunId
            ? m_db.run(
                  QStringLiteral(
                      "UPDATE sessions SET current_run_id=?, "
                      "current_run_version=current_run_version+1, "
                      "updated_at=? WHERE id=? AND current_run_version=? AND current_run_id IS ?"),
                  {newRunId, nowMs, sessionId, expectedVersion,
                   expectedRunId->isEmpty() ? QVariant() : QVariant(*expectedRunId)})
            : m_db.run(QStringLiteral("UPDATE sessions SET current_run_id=?, "
                                      "current_run_version=current_run_version+1, "
                                      "updated_at=? WHERE id=? AND current_run_version=?"),
                       {newRunId, nowMs, sessionId, expectedVersion});
    if (!q)
        return q.error();
    return (*q)->numRowsAffected() == 1;
}

Result<void> SessionStore::insertRun(const RunRow &row)
{
    auto q = m_db.run(
        QStringLiteral("INSERT INTO runs(" RUN_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"),
        {row.id, row.sessionId, row.taskIdentifier, row.version, row.status, tagsText(row.tags),
         QString::fromUtf8(row.payload),
         row.metadata ? QVariant(QString::fromUtf8(*row.metadata)) : QVariant(), row.createdAt,
         row.updatedAt, opt(row.startedAt), opt(row.finishedAt)});
    if (!q)
        return q.error();
    return {};
}

Result<void> SessionStore::updateRun(const RunRow &row)
{
    auto q = m_db.run(
        QStringLiteral("UPDATE runs SET version=?, status=?, tags=?, metadata=?, updated_at=?, "
                       "started_at=?, finished_at=? WHERE id=?"),
        {row.version, row.status, tagsText(row.tags),
         row.metadata ? QVariant(QString::fromUtf8(*row.metadata)) : QVariant(), row.updatedAt,
         opt(row.startedAt), opt(row.finishedAt), row.id});
    if (!q)
        return q.error();
    if ((*q)->numRowsAffected() != 1) {
        Error e = Error::make(QStringLiteral("Run %1 not found").arg(row.id));
        e.httpStatus = 404;
        return e;
    }
    return {};
}

Result<std::optional<RunRow>> SessionStore::findRun(QStringView runId)
{
    auto q = m_db.run(QStringLiteral("SELECT " RUN_COLUMNS " FROM runs WHERE id = ?"),
                      {runId.toString()});
    if (!q)
        return q.error();
    std::optional<RunRow> row;
    if ((*q)->next())
        row = runFrom(**q);
    (*q)->finish();
    return row;
}

Result<QList<RunRow>> SessionStore::runsForSession(const QString &sessionFriendlyId)
{
    auto q = m_db.run(
        QStringLiteral("SELECT " RUN_COLUMNS
                       " FROM runs WHERE session_id = ? ORDER BY created_at DESC, id DESC"),
        {sessionFriendlyId});
    if (!q)
        return q.error();
    QList<RunRow> rows;
    while ((*q)->next())
        rows << runFrom(**q);
    (*q)->finish();
    return rows;
}

Result<void> SessionStore::insertSessionRun(const SessionRunRow &row)
{
    auto q = m_db.run(
        QStringLiteral("INSERT INTO session_runs(id, session_id, run_id, reason, triggered_at) "
                       "VALUES(?,?,?,?,?)"),
        {row.id, row.sessionId, row.runId, row.reason, row.triggeredAt});
    if (!q)
        return q.error();
    return {};
}

Result<QList<SessionRunRow>> SessionStore::sessionRuns(const QString &sessionFriendlyId)
{
    // Audit ids are cuids, so id order is write order even within one ms.
    auto q = m_db.run(
        QStringLiteral("SELECT id, session_id, run_id, reason, triggered_at FROM session_runs "
                       "WHERE session_id = ? ORDER BY id DESC"),
        {sessionFriendlyId});
    if (!q)
        return q.error();
    QList<SessionRunRow> rows;
    while ((*q)->next()) {
        SessionRunRow row;
        row.id = (*q)->value(0).toString();
        row.sessionId = (*q)->value(1).toString();
        row.runId = (*q)->value(2).toString();
        row.reason = (*q)->value(3).toString();
        row.triggeredAt = (*q)->value(4).toLongLong();
        rows << row;
    }
    (*q)->finish();
    return rows;
}

Result<SessionPage> SessionStore::listSessions(const SessionListQuery &query, qint64 nowMs)
{
    QStringList where;
    QVariantList binds;
    auto in = [&](const char *column, const QStringList &values) {
        if (values.isEmpty())
            return;
        QStringList marks;
        for (const QString &v : values) {
            marks << QStringLiteral("?");
            binds << v;
        }
        where << QStringLiteral("%1 IN (%2)")
                     .arg(QLatin1String(column), marks.join(QLatin1Char(',')));
    };
    in("type", query.types);
    in("task_identifier", query.taskIdentifiers);
    if (!query.tags.isEmpty()) {
        QStringList marks;
        for (const QString &t : query.tags) {
            marks << QStringLiteral("?");
            binds << t;
        }
        where
            << QStringLiteral(
                   "EXISTS (SELECT 1 FROM json_each(sessions.tags) WHERE json_each.value IN (%1))")
                   .arg(marks.join(QLatin1Char(',')));
    }
    if (query.externalId) {
        where << QStringLiteral("external_id = ?");
        binds << *query.externalId;
    }
    if (!query.statuses.isEmpty()) {
        QStringList any;
        for (SessionStatus s : query.statuses) {
            switch (s) {
            case SessionStatus::Active:
                any << QStringLiteral(
                    "(closed_at IS NULL AND (expires_at IS NULL OR expires_at >= ?))");
                binds << nowMs;
                break;
            case SessionStatus::Closed:
                any << QStringLiteral("closed_at IS NOT NULL");
                break;
            case SessionStatus::Expired:
                any << QStringLiteral(
                    "(closed_at IS NULL AND expires_at IS NOT NULL AND expires_at < ?)");
                binds << nowMs;
                break;
            }
        }
        where << QStringLiteral("(%1)").arg(any.join(QLatin1String(" OR ")));
    }
    if (query.periodMs) {
        where << QStringLiteral("created_at >= ?");
        binds << nowMs - *query.periodMs;
    }
    if (query.fromMs) {
        where << QStringLiteral("created_at >= ?");
        binds << *query.fromMs;
    }
    if (query.toMs) {
        where << QStringLiteral("created_at <= ?");
        binds << *query.toMs;
    }
    const bool backward = !query.before.isEmpty();
    const QString cursor = backward ? query.before : query.after;
    if (!cursor.isEmpty()) {
        where << (backward ? QStringLiteral("id > ?") : QStringLiteral("id < ?"));
        binds << cursor;
    }
    const QString sql =
        QStringLiteral("SELECT %1 FROM sessions %2 ORDER BY id %3 LIMIT %4")
            .arg(kSessionColumns,
                 where.isEmpty() ? QString()
                                 : QStringLiteral("WHERE ") + where.join(QLatin1String(" AND ")),
                 backward ? QStringLiteral("ASC") : QStringLiteral("DESC"))
            .arg(query.pageSize + 1);
    QSqlQuery q(m_db.db());
    if (!q.prepare(sql))
        return Database::error(QStringLiteral("Listing sessions"), q.lastError());
    for (int i = 0; i < binds.size(); ++i)
        q.bindValue(i, binds.at(i));
    if (!q.exec())
        return Database::error(QStringLiteral("Listing sessions"), q.lastError());
    QList<SessionRow> rows;
    while (q.next())
        rows << sessionFrom(q);
    q.finish();

    const bool hasMore = rows.size() > query.pageSize;
    if (hasMore)
        rows.resize(query.pageSize);
    SessionPage page;
    if (backward) {
        std::reverse(rows.begin(), rows.end());
        // Came from newer pages' side: there is always an older page after this one.
        if (!rows.isEmpty())
            page.next = rows.last().id;
        if (hasMore && !rows.isEmpty())
            page.previous = rows.first().id;
    } else {
        if (hasMore)
            page.next = rows.last().id;
        if (!cursor.isEmpty() && !rows.isEmpty())
            page.previous = rows.first().id;
    }
    page.rows = rows;
    return page;
}

} // namespace sessionscope
