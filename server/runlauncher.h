#pragma once

#include "server/sessionstore.h"

#include <QString>

#include <optional>

namespace sessionscope {

// Why a run took over a session; the `reason` of its SessionRun audit row.
enum class RunReason : quint8 { Initial, Continuation, Upgrade, Manual };

QString runReasonName(RunReason reason);
// Unknown labels are `manual`, as end-and-continue narrows them in the webapp.
RunReason runReasonFromName(QStringView name);

// The extension point where runs come to life. SessionService asks it which
// version a new run is pinned to and tells it once the run row is committed and
// owns the session (first run, continuation after the run is gone, or
// end-and-continue). The base class is what the embedded server does before an
// agent runtime is attached: the run stays a QUEUED row on the configured
// default version (or the session's lockToVersion). An agent runtime
// subclasses it to deploy versions and execute runs.
class RunLauncher
{
public:
    explicit RunLauncher(QString defaultVersion = QStringLiteral("0"));
    virtual ~RunLauncher();

    // The version a new run for `session` starts on. The default honours
    // triggerConfig.lockToVersion, else the default version label.
    virtual QString versionForNewRun(const SessionRow &session, RunReason reason);

    // A new run row is committed and is the session's current run.
    // `previousRunId` is the run it replaces (empty for the first run).
    virtual void runStarted(const SessionRow &session, const RunRow &run, RunReason reason,
                            const QString &previousRunId);

    QString defaultVersion() const { return m_defaultVersion; }
    void setDefaultVersion(const QString &version) { m_defaultVersion = version; }

private:
    QString m_defaultVersion;
};

} // namespace sessionscope
