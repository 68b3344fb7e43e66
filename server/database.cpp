#include "server/database.h"

#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>

namespace sessionscope {

namespace {

constexpr int kSchemaVersion = 1;

const char *const kSchema[] = {
    R"(CREATE TABLE IF NOT EXISTS meta(
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL))",
    R"(CREATE TABLE IF NOT EXISTS sessions(
         id TEXT PRIMARY KEY,
         friendly_id TEXT NOT NULL UNIQUE,
         external_id TEXT UNIQUE,
         type TEXT NOT NULL,
         task_identifier TEXT NOT NULL,
         trigger_config TEXT NOT NULL,
         current_run_id TEXT,
         current_run_version INTEGER NOT NULL DEFAULT 0,
         tags TEXT NOT NULL,
         metadata TEXT,
         closed_at INTEGER,
         closed_reason TEXT,
         expires_at INTEGER,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL))",
    R"(CREATE TABLE IF NOT EXISTS runs(
         id TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         task_identifier TEXT NOT NULL,
         version TEXT NOT NULL,
         status TEXT NOT NULL,
         tags TEXT NOT NULL,
         payload TEXT NOT NULL,
         metadata TEXT,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         started_at INTEGER,
         finished_at INTEGER))",
    "CREATE INDEX IF NOT EXISTS runs_session ON runs(session_id)",
    R"(CREATE TABLE IF NOT EXISTS session_runs(
         id TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         run_id TEXT NOT NULL,
         reason TEXT NOT NULL,
         triggered_at INTEGER NOT NULL))",
    "CREATE INDEX IF NOT EXISTS session_runs_session ON session_runs(session_id, id)",
    R"(CREATE TABLE IF NOT EXISTS streams(
         id INTEGER PRIMARY KEY,
         key TEXT NOT NULL,
         channel INTEGER NOT NULL,
         trim_seq INTEGER NOT NULL DEFAULT 0,
         UNIQUE(key, channel)))",
    R"(CREATE TABLE IF NOT EXISTS records(
         stream_id INTEGER NOT NULL,
         seq INTEGER NOT NULL,
         ts INTEGER NOT NULL,
         headers TEXT,
         body BLOB NOT NULL,
         PRIMARY KEY(stream_id, seq)) WITHOUT ROWID)",
    R"(CREATE TABLE IF NOT EXISTS part_ids(
         stream_id INTEGER NOT NULL,
         part_id BLOB NOT NULL,
         seq INTEGER NOT NULL,
         PRIMARY KEY(stream_id, part_id)) WITHOUT ROWID)",
};

} // namespace

Error Database::error(const QString &what, const QSqlError &sqlError)
{
    Error e = Error::make(QStringLiteral("%1: %2").arg(what, sqlError.text()));
    e.httpStatus = 500;
    e.retrySafe = true;
    return e;
}

Database::Database() = default;

Database::~Database()
{
    close();
}

QString Database::connectionNameFor(const void *owner)
{
    return QStringLiteral("sessionscope-%1").arg(quintptr(owner), 0, 16);
}

Result<void> Database::open(const QString &path)
{
    close();
    m_path = path;
    m_connectionName = connectionNameFor(this);
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connectionName);
    m_db.setDatabaseName(path);
    // Wait for a lock instead of failing at once if an old process is still
    // closing the same file.
    m_db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    if (!m_db.open())
        return error(QStringLiteral("Cannot open the database %1").arg(path), m_db.lastError());

    for (const char *pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=OFF",
          "PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-16000"}) {
        QSqlQuery q(m_db);
        if (!q.exec(QString::fromLatin1(pragma)))
            return error(QString::fromLatin1(pragma), q.lastError());
        if (QByteArrayView(pragma) == "PRAGMA journal_mode=WAL" && q.next() &&
            q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
            return Error::make(QStringLiteral("The database %1 cannot use WAL mode").arg(path));
        }
    }
    return migrate();
}

Result<void> Database::migrate()
{
    if (auto r = begin(); !r)
        return r;
    for (const char *statement : kSchema) {
        if (auto r = exec(QString::fromLatin1(statement)); !r) {
            rollback();
            return r;
        }
    }
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("SELECT value FROM meta WHERE key='schema_version'"))) {
        rollback();
        return error(QStringLiteral("Reading the schema version"), q.lastError());
    }
    if (q.next()) {
        const int version = q.value(0).toInt();
        if (version > kSchemaVersion) {
            rollback();
            return Error::make(
                QStringLiteral(
                    "The database %1 was written by a newer sessionscope (schema %2, this "
                    "build knows %3)")
                    .arg(m_path)
                    .arg(version)
                    .arg(kSchemaVersion));
        }
    } else {
        QSqlQuery insert(m_db);
        insert.prepare(QStringLiteral("INSERT INTO meta(key, value) VALUES('schema_version', ?)"));
        insert.addBindValue(QString::number(kSchemaVersion));
        if (!insert.exec()) {
            rollback();
            return error(QStringLiteral("Writing the schema version"), insert.lastError());
        }
    }
    return commit();
}

void Database::close()
{
    if (m_connectionName.isEmpty())
        return;
    m_prepared.clear();
    if (m_db.isOpen()) {
        // Fold the WAL back into the main file so a clean shutdown leaves one file.
        QSqlQuery(m_db).exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)"));
        m_db.close();
    }
    m_db = QSqlDatabase();
    QSqlDatabase::removeDatabase(m_connectionName);
    m_connectionName.clear();
}

bool Database::isOpen() const
{
    return m_db.isOpen();
}

Result<void> Database::begin()
{
    return exec(QStringLiteral("BEGIN IMMEDIATE"));
}

Result<void> Database::commit()
{
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("COMMIT"))) {
        const QSqlError e = q.lastError();
        rollback();
        return error(QStringLiteral("Commit failed"), e);
    }
    return {};
}

void Database::rollback()
{
    QSqlQuery(m_db).exec(QStringLiteral("ROLLBACK"));
}

Result<void> Database::exec(const QString &sql)
{
    QSqlQuery q(m_db);
    if (!q.exec(sql))
        return error(sql.left(60).simplified(), q.lastError());
    return {};
}

} // namespace sessionscope

namespace sessionscope {

Result<QSqlQuery *> Database::prepared(const QString &sql)
{
    auto it = m_prepared.find(sql);
    if (it != m_prepared.end())
        return it->second.get();
    auto q = std::make_unique<QSqlQuery>(m_db);
    if (!q->prepare(sql))
        return error(QStringLiteral("Preparing \"%1\"").arg(sql.simplified()), q->lastError());
    QSqlQuery *raw = q.get();
    m_prepared.emplace(sql, std::move(q));
    return raw;
}

Result<QSqlQuery *> Database::run(const QString &sql, std::initializer_list<QVariant> values)
{
    auto q = prepared(sql);
    if (!q)
        return q;
    QSqlQuery *query = *q;
    int i = 0;
    for (const QVariant &v : values)
        query->bindValue(i++, v);
    if (!query->exec()) {
        const QSqlError e = query->lastError();
        query->finish();
        return error(QStringLiteral("\"%1\"").arg(sql.simplified().left(80)), e);
    }
    return query;
}

} // namespace sessionscope
