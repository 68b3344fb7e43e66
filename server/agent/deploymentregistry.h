#pragma once

#include "net/result.h"
#include "server/agent/agentversion.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

namespace sessionscope {

// The agent versions deployed per task, in deploy order; the last one is
// "latest". A deploy never touches a running run (runs hold their own copy
// of the version they started on). Optionally persisted in a SQLite table
// of the server's database so deploys survive a restart.
class DeploymentRegistry : public QObject
{
    Q_OBJECT

public:
    explicit DeploymentRegistry(QObject *parent = nullptr);

    // Loads (and from then on writes) table agent_deployments through the
    // named QSqlDatabase connection, which must be open on this thread.
    Result<void> attachDatabase(const QString &connectionName);

    // Deploys `version` for version.task. An empty label gets the next
    // "YYYYMMDD.N" of today (UTC); a label already deployed for the task is
    // refused (409). Returns the version as stored, with label and deployedAt.
    Result<AgentVersion> deploy(AgentVersion version);
    // Deploys one of BuiltinVersions (404 when there is no such built-in).
    Result<AgentVersion> deployBuiltin(const QString &task, const QString &name);
    // First start: deploys chat-agent "current" unless chat-agent has versions.
    Result<void> ensureBuiltins();

    std::optional<AgentVersion> latest(const QString &task) const;
    std::optional<AgentVersion> find(const QString &task, const QString &label) const;
    // The version a new run of `task` starts on: `lockToVersion` when given
    // (404 when it is not deployed), else the latest (404 when none).
    Result<AgentVersion> resolve(const QString &task, const QString &lockToVersion = {}) const;

    // All versions of a task in deploy order; all tasks when task is empty.
    QList<AgentVersion> versions(const QString &task = {}) const;
    QStringList tasks() const;

    // Tests pin "today" to check label numbering.
    void setClock(std::function<QDateTime()> clock) { m_clock = std::move(clock); }

Q_SIGNALS:
    void deployed(const sessionscope::AgentVersion &version);

private:
    QString nextLabel(const QString &task) const;
    Result<void> persist(const AgentVersion &version, int position);

    QHash<QString, QList<AgentVersion>> m_versions;
    QStringList m_taskOrder;
    QString m_connectionName;
    std::function<QDateTime()> m_clock;
};

} // namespace sessionscope
