#include "server/agent/deploymentregistry.h"

#include "server/agent/builtinversions.h"

#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

namespace sessionscope {

namespace {

Error statusError(QString message, int status)
{
    Error e = Error::make(std::move(message));
    e.httpStatus = status;
    return e;
}

Error sqlError(const QString &what, const QSqlError &error)
{
    return statusError(QStringLiteral("%1: %2").arg(what, error.text()), 500);
}

} // namespace

DeploymentRegistry::DeploymentRegistry(QObject *parent)
    : QObject(parent), m_clock([] { return QDateTime::currentDateTimeUtc(); })
{
}

Result<void> DeploymentRegistry::attachDatabase(const QString &connectionName)
{
    QSqlDatabase db = QSqlDatabase::database(connectionName, false);
    if (!db.isValid() || !db.isOpen())
        return statusError(QStringLiteral("deployments: database connection %1 is not open").arg(connectionName), 500);
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS agent_deployments ("
                               " task TEXT NOT NULL, label TEXT NOT NULL, position INTEGER NOT NULL,"
                               " body TEXT NOT NULL, PRIMARY KEY (task, label))"))) {
        return sqlError(QStringLiteral("deployments: cannot create the table"), q.lastError());
    }
    if (!q.exec(QStringLiteral("SELECT body FROM agent_deployments ORDER BY task, position")))
        return sqlError(QStringLiteral("deployments: cannot read the table"), q.lastError());
    QHash<QString, QList<AgentVersion>> loaded;
    QStringList order;
    while (q.next()) {
        const QJsonDocument doc = QJsonDocument::fromJson(q.value(0).toByteArray());
        auto version = AgentVersion::fromJson(doc.object());
        if (!doc.isObject() || !version || version->task.isEmpty() || version->label.isEmpty()) {
            return statusError(QStringLiteral("deployments: a stored version is unreadable: %1")
                                   .arg(version ? QStringLiteral("no task or label") : version.error().message),
                               500);
        }
        if (!loaded.contains(version->task))
            order << version->task;
        loaded[version->task].append(version.value());
    }
    // Versions deployed before the database was attached (none in practice)
    // are written through so both agree.
    m_connectionName = connectionName;
    for (const QString &task : std::as_const(m_taskOrder)) {
        for (const AgentVersion &v : std::as_const(m_versions[task])) {
            if (!loaded.contains(task))
                order << task;
            if (auto r = persist(v, int(loaded[task].size())); !r)
                return r;
            loaded[task].append(v);
        }
    }
    m_versions = std::move(loaded);
    m_taskOrder = std::move(order);
    return {};
}

Result<void> DeploymentRegistry::persist(const AgentVersion &version, int position)
{
    if (m_connectionName.isEmpty())
        return {};
    QSqlQuery q(QSqlDatabase::database(m_connectionName, false));
    q.prepare(QStringLiteral("INSERT INTO agent_deployments (task, label, position, body) VALUES (?, ?, ?, ?)"));
    q.addBindValue(version.task);
    q.addBindValue(version.label);
    q.addBindValue(position);
    q.addBindValue(QString::fromUtf8(QJsonDocument(version.toJson()).toJson(QJsonDocument::Compact)));
    if (!q.exec())
        return sqlError(QStringLiteral("deployments: cannot store %1 %2").arg(version.task, version.label), q.lastError());
    return {};
}

QString DeploymentRegistry::nextLabel(const QString &task) const
{
    const QString today = m_clock().toUTC().date().toString(QStringLiteral("yyyyMMdd"));
    int highest = 0;
    for (const AgentVersion &v : m_versions.value(task)) {
        const auto dated = AgentVersion::splitDatedLabel(v.label);
        if (dated && dated->first == today)
            highest = std::max(highest, dated->second);
    }
    return today + QLatin1Char('.') + QString::number(highest + 1);
}

Result<AgentVersion> DeploymentRegistry::deploy(AgentVersion version)
{
    if (version.task.isEmpty() || version.task.size() > 128)
        return statusError(QStringLiteral("a deploy needs a task identifier of 1..128 characters"), 422);
    if (version.label.isEmpty())
        version.label = nextLabel(version.task);
    else if (!AgentVersion::isValidLabel(version.label))
        return statusError(QStringLiteral("label must be 1..64 of [A-Za-z0-9._-]"), 422);
    if (find(version.task, version.label))
        return statusError(QStringLiteral("%1 already has a version %2").arg(version.task, version.label), 409);
    version.deployedAt = m_clock().toUTC();
    QList<AgentVersion> &list = m_versions[version.task];
    if (auto r = persist(version, int(list.size())); !r)
        return r.error();
    if (!m_taskOrder.contains(version.task))
        m_taskOrder << version.task;
    list.append(version);
    Q_EMIT deployed(version);
    return version;
}

Result<AgentVersion> DeploymentRegistry::deployBuiltin(const QString &task, const QString &name)
{
    auto builtin = BuiltinVersions::find(task, name);
    if (!builtin) {
        return statusError(QStringLiteral("no built-in version \"%1\" for task %2 (built-ins: %3 for %4)")
                               .arg(name, task, BuiltinVersions::names().join(QLatin1String(", ")),
                                    QLatin1String(BuiltinVersions::ChatAgentTask)),
                           404);
    }
    return deploy(std::move(*builtin));
}

Result<void> DeploymentRegistry::ensureBuiltins()
{
    const QString task = QLatin1String(BuiltinVersions::ChatAgentTask);
    if (!m_versions.value(task).isEmpty())
        return {};
    auto r = deployBuiltin(task, QStringLiteral("current"));
    if (!r)
        return r.error();
    return {};
}

std::optional<AgentVersion> DeploymentRegistry::latest(const QString &task) const
{
    const auto it = m_versions.constFind(task);
    if (it == m_versions.constEnd() || it->isEmpty())
        return std::nullopt;
    return it->last();
}

std::optional<AgentVersion> DeploymentRegistry::find(const QString &task, const QString &label) const
{
    for (const AgentVersion &v : m_versions.value(task)) {
        if (v.label == label)
            return v;
    }
    return std::nullopt;
}

Result<AgentVersion> DeploymentRegistry::resolve(const QString &task, const QString &lockToVersion) const
{
    if (!lockToVersion.isEmpty()) {
        if (auto v = find(task, lockToVersion))
            return *v;
        return statusError(QStringLiteral("task %1 has no deployed version %2 (lockToVersion)").arg(task, lockToVersion), 404);
    }
    if (auto v = latest(task))
        return *v;
    return statusError(QStringLiteral("task %1 has no deployed version").arg(task), 404);
}

QList<AgentVersion> DeploymentRegistry::versions(const QString &task) const
{
    if (!task.isEmpty())
        return m_versions.value(task);
    QList<AgentVersion> all;
    for (const QString &t : m_taskOrder)
        all += m_versions.value(t);
    return all;
}

QStringList DeploymentRegistry::tasks() const
{
    return m_taskOrder;
}

} // namespace sessionscope
