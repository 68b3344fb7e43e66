#include "server/runlauncher.h"

#include <QJsonObject>

namespace sessionscope {

QString runReasonName(RunReason reason)
{
    switch (reason) {
    case RunReason::Initial:
        return QStringLiteral("initial");
    case RunReason::Continuation:
        return QStringLiteral("continuation");
    case RunReason::Upgrade:
        return QStringLiteral("upgrade");
    case RunReason::Manual:
        return QStringLiteral("manual");
    }
    return QStringLiteral("manual");
}

RunReason runReasonFromName(QStringView name)
{
    if (name == u"initial")
        return RunReason::Initial;
    if (name == u"continuation")
        return RunReason::Continuation;
    if (name == u"upgrade")
        return RunReason::Upgrade;
    return RunReason::Manual;
}

RunLauncher::RunLauncher(QString defaultVersion) : m_defaultVersion(std::move(defaultVersion)) {}

RunLauncher::~RunLauncher() = default;

QString RunLauncher::versionForNewRun(const SessionRow &session, RunReason)
{
    const QString locked =
        session.triggerConfigObject().value(QLatin1String("lockToVersion")).toString();
    return locked.isEmpty() ? m_defaultVersion : locked;
}

void RunLauncher::runStarted(const SessionRow &, const RunRow &, RunReason, const QString &) {}

} // namespace sessionscope
