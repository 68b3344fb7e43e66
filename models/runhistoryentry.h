#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

struct ObservedRun;
struct RunDetails;
struct SessionRunEntry;

// One run that took over a session, whichever way the client learnt of it:
// a SessionRun audit row of the `/runs` extension, or a run ObservedHistory
// saw on a backend without it. The run's own details (version, status,
// times) are filled in as they become known.
struct RunHistoryEntry
{
    QString auditId; // the SessionRun row id; empty for an observed run
    QString runId;
    QString reason;  // initial, continuation, upgrade, manual; "observed" when unknown
    QString source;  // "runs" for the audit rows, else what revealed the run
    QDateTime triggeredAt;
    QString version;
    QString status;
    QDateTime startedAt;
    QDateTime finishedAt;
    std::optional<qint64> reportedDurationMs; // the server's durationMs, when it sent one

    static RunHistoryEntry fromSessionRun(const SessionRunEntry &entry);
    static RunHistoryEntry fromObserved(const ObservedRun &run);

    // Takes version, status and times from the run's details.
    void apply(const RunDetails &run);
    bool isFinal() const;
    // finished - started; for a run still going, now - started.
    std::optional<qint64> durationMs(const QDateTime &now = QDateTime::currentDateTimeUtc()) const;

    bool operator==(const RunHistoryEntry &) const = default;
};

// Newest first (by triggeredAt), as the `/runs` extension answers; ties keep
// their order.
QList<RunHistoryEntry> newestFirst(QList<RunHistoryEntry> entries);

} // namespace sessionscope
