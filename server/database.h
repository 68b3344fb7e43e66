#pragma once

#include "net/result.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <initializer_list>
#include <memory>
#include <unordered_map>

namespace sessionscope {

// The server's SQLite file: one connection, WAL journal, schema migrations.
//
// Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT has reached
// the disk (the WAL is fsynced) before it returns. Every response that
// acknowledges a write is sent after its COMMIT, so an acknowledged write
// survives kill -9 and power loss alike. (NORMAL would already survive a
// process crash, since the WAL write is in the OS page cache, but fsync is cheap
// next to a loopback round trip and FULL also covers the machine going down.)
class Database
{
public:
    Database();
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    // Opens (creating if needed) DATA_DIR/sessionscope.db and migrates it.
    Result<void> open(const QString &path);
    void close();
    bool isOpen() const;

    QSqlDatabase &db() { return m_db; }
    QString path() const { return m_path; }

    // BEGIN IMMEDIATE / COMMIT / ROLLBACK. Writes are all on one thread, so
    // IMMEDIATE only guards against another process opening the same file.
    Result<void> begin();
    Result<void> commit();
    void rollback();

    // Runs one statement that returns no rows.
    Result<void> exec(const QString &sql);

    // A statement compiled once and reused with new bindings. Call finish() on
    // it after reading a SELECT so COMMIT is not blocked by an open cursor.
    Result<QSqlQuery *> prepared(const QString &sql);
    // Binds `values` in order and runs a prepared statement.
    Result<QSqlQuery *> run(const QString &sql, std::initializer_list<QVariant> values);

    // The error for a failed statement, as a 500 that is safe to retry.
    static Error error(const QString &what, const QSqlError &error);

    static QString connectionNameFor(const void *owner);

private:
    Result<void> migrate();

    QSqlDatabase m_db;
    std::unordered_map<QString, std::unique_ptr<QSqlQuery>> m_prepared;
    QString m_connectionName;
    QString m_path;
};

} // namespace sessionscope
