#include "models/runhistoryentry.h"

#include "net/observedhistory.h"
#include "net/sessionsclient.h"

#include <algorithm>

namespace sessionscope {

RunHistoryEntry RunHistoryEntry::fromSessionRun(const SessionRunEntry &entry)
{
    RunHistoryEntry out;
    out.auditId = entry.id;
    out.runId = entry.runId;
    out.reason = entry.reason;
    out.source = QStringLiteral("runs");
    out.triggeredAt = entry.triggeredAt;
    if (entry.run)
        out.apply(*entry.run);
    return out;
}

RunHistoryEntry RunHistoryEntry::fromObserved(const ObservedRun &run)
{
    RunHistoryEntry out;
    out.runId = run.runId;
    out.reason = run.reason;
    out.source = run.source;
    out.triggeredAt = run.firstSeenAt;
    out.version = run.version;
    out.status = run.status;
    return out;
}

void RunHistoryEntry::apply(const RunDetails &run)
{
    if (!run.version.isEmpty())
        version = run.version;
    if (!run.status.isEmpty())
        status = run.status;
    if (run.startedAt.isValid())
        startedAt = run.startedAt;
    if (run.finishedAt.isValid())
        finishedAt = run.finishedAt;
    // The summary inside a `/runs` row carries no durationMs; 0 then means
    // "not sent" rather than an instant run.
    if (run.raw.contains(QLatin1String("durationMs")))
        reportedDurationMs = run.durationMs;
}

bool RunHistoryEntry::isFinal() const
{
    static const QStringList finalStates{
        QStringLiteral("COMPLETED"), QStringLiteral("CANCELED"),       QStringLiteral("FAILED"),
        QStringLiteral("CRASHED"),   QStringLiteral("SYSTEM_FAILURE"), QStringLiteral("EXPIRED"),
        QStringLiteral("TIMED_OUT"),
    };
    return finishedAt.isValid() || finalStates.contains(status);
}

std::optional<qint64> RunHistoryEntry::durationMs(const QDateTime &now) const
{
    if (startedAt.isValid() && finishedAt.isValid())
        return qMax<qint64>(0, startedAt.msecsTo(finishedAt));
    if (startedAt.isValid() && !isFinal())
        return qMax<qint64>(0, startedAt.msecsTo(now));
    return reportedDurationMs;
}

QList<RunHistoryEntry> newestFirst(QList<RunHistoryEntry> entries)
{
    std::stable_sort(entries.begin(), entries.end(), [](const RunHistoryEntry &a, const RunHistoryEntry &b) {
        return a.triggeredAt > b.triggeredAt;
    });
    return entries;
}

} // namespace sessionscope
