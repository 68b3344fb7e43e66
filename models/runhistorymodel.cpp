#include "models/runhistorymodel.h"

#include "net/observedhistory.h"
#include "net/sessionsclient.h"

#include <QFont>
#include <QHash>

namespace sessionscope {

namespace {

QVariant shownDate(const QDateTime &at)
{
    return at.isValid() ? QVariant(at.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))) : QVariant();
}

QVariant optionalMs(const std::optional<qint64> &ms)
{
    return ms ? QVariant(*ms) : QVariant();
}

// A refresh may know less about a run than an earlier lookup did.
void carryOver(RunHistoryEntry &next, const RunHistoryEntry &known)
{
    if (next.version.isEmpty())
        next.version = known.version;
    if (next.status.isEmpty())
        next.status = known.status;
    if (!next.startedAt.isValid())
        next.startedAt = known.startedAt;
    if (!next.finishedAt.isValid())
        next.finishedAt = known.finishedAt;
    if (!next.reportedDurationMs)
        next.reportedDurationMs = known.reportedDurationMs;
}

} // namespace

RunHistoryModel::RunHistoryModel(QObject *parent) : KeyedRowsModel<RunHistoryEntry>(parent) {}

int RunHistoryModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString RunHistoryModel::rowKey(const RunHistoryEntry &row) const
{
    return row.auditId.isEmpty() ? row.runId : row.auditId;
}

QString RunHistoryModel::formatDuration(qint64 ms)
{
    if (ms < 1000)
        return tr("%1 ms").arg(ms);
    if (ms < 60'000)
        return tr("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 seconds = ms / 1000;
    if (seconds < 3600)
        return tr("%1 min %2 s").arg(seconds / 60).arg(seconds % 60);
    return tr("%1 h %2 min").arg(seconds / 3600).arg((seconds % 3600) / 60);
}

QVariant RunHistoryModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const RunHistoryEntry &e = rows().at(index.row());
    if (role == Qt::FontRole) {
        if (e.runId != m_currentRunId)
            return {};
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    if (role == Qt::DisplayRole || role == SortRole) {
        const bool display = role == Qt::DisplayRole;
        switch (index.column()) {
        case RunIdColumn:
            return e.runId;
        case VersionColumn:
            return e.version;
        case ReasonColumn:
            return e.reason;
        case StatusColumn:
            return e.status;
        case TriggeredColumn:
            return display ? shownDate(e.triggeredAt) : QVariant(e.triggeredAt);
        case StartedColumn:
            return display ? shownDate(e.startedAt) : QVariant(e.startedAt);
        case FinishedColumn:
            return display ? shownDate(e.finishedAt) : QVariant(e.finishedAt);
        case DurationColumn: {
            const auto ms = e.durationMs();
            if (!ms)
                return {};
            return display ? QVariant(formatDuration(*ms)) : QVariant(*ms);
        }
        }
        return {};
    }
    if (role == Qt::ToolTipRole && index.column() == ReasonColumn && !e.source.isEmpty())
        return tr("Seen through: %1").arg(e.source);
    return roleData(e, role);
}

QVariant RunHistoryModel::roleData(const RunHistoryEntry &e, int role) const
{
    switch (role) {
    case RunIdRole:
        return e.runId;
    case VersionRole:
        return e.version;
    case ReasonRole:
        return e.reason;
    case StatusRole:
        return e.status;
    case TriggeredAtRole:
        return e.triggeredAt;
    case StartedAtRole:
        return e.startedAt;
    case FinishedAtRole:
        return e.finishedAt;
    case DurationMsRole:
        return optionalMs(e.durationMs());
    case AuditIdRole:
        return e.auditId;
    case SourceRole:
        return e.source;
    case IsCurrentRole:
        return !m_currentRunId.isEmpty() && e.runId == m_currentRunId;
    }
    return {};
}

QVariant RunHistoryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return KeyedRowsModel::headerData(section, orientation, role);
    switch (section) {
    case RunIdColumn:
        return tr("Run");
    case VersionColumn:
        return tr("Version");
    case ReasonColumn:
        return tr("Reason");
    case StatusColumn:
        return tr("Status");
    case TriggeredColumn:
        return tr("Triggered");
    case StartedColumn:
        return tr("Started");
    case FinishedColumn:
        return tr("Finished");
    case DurationColumn:
        return tr("Duration");
    }
    return {};
}

QHash<int, QByteArray> RunHistoryModel::roleNames() const
{
    QHash<int, QByteArray> names = KeyedRowsModel::roleNames();
    names.insert(RunIdRole, "runId");
    names.insert(VersionRole, "version");
    names.insert(ReasonRole, "reason");
    names.insert(StatusRole, "status");
    names.insert(TriggeredAtRole, "triggeredAt");
    names.insert(StartedAtRole, "startedAt");
    names.insert(FinishedAtRole, "finishedAt");
    names.insert(DurationMsRole, "durationMs");
    names.insert(AuditIdRole, "auditId");
    names.insert(SourceRole, "source");
    names.insert(IsCurrentRole, "isCurrent");
    names.insert(SortRole, "sort");
    return names;
}

void RunHistoryModel::setEntries(const QList<RunHistoryEntry> &entries)
{
    QHash<QString, const RunHistoryEntry *> known;
    for (const RunHistoryEntry &e : rows())
        known.insert(e.runId, &e);
    QList<RunHistoryEntry> next = newestFirst(entries);
    for (RunHistoryEntry &e : next) {
        if (const RunHistoryEntry *k = known.value(e.runId))
            carryOver(e, *k);
    }
    syncRows(next);
    Q_EMIT entriesChanged();
}

void RunHistoryModel::setObservedRuns(const QList<ObservedRun> &runs)
{
    QList<RunHistoryEntry> entries;
    entries.reserve(runs.size());
    // The journal lists runs oldest first; two takeovers seen within the same
    // millisecond must still sort newest first, so feed the stable sort reversed.
    for (auto it = runs.crbegin(); it != runs.crend(); ++it)
        entries.append(RunHistoryEntry::fromObserved(*it));
    setEntries(entries);
}

void RunHistoryModel::updateRun(const RunDetails &run)
{
    bool changed = false;
    updateRows([&](RunHistoryEntry &e) {
        if (e.runId != run.id)
            return false;
        const RunHistoryEntry before = e;
        e.apply(run);
        const bool differs = !(before == e);
        changed = changed || differs;
        return differs;
    });
    if (changed)
        Q_EMIT entriesChanged();
}

void RunHistoryModel::setCurrentRunId(const QString &runId)
{
    if (runId == m_currentRunId)
        return;
    const QString previous = std::exchange(m_currentRunId, runId);
    for (const QString &id : {previous, runId}) {
        const int row = rowForRun(id);
        if (row >= 0)
            Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1), {Qt::FontRole, IsCurrentRole});
    }
}

int RunHistoryModel::rowForRun(const QString &runId) const
{
    if (runId.isEmpty())
        return -1;
    for (qsizetype i = 0; i < rows().size(); ++i) {
        if (rows()[i].runId == runId)
            return int(i);
    }
    return -1;
}

void RunHistoryModel::clear()
{
    ++m_generation;
    m_lookedUp.clear();
    setLoading(false);
    clearRows();
    Q_EMIT entriesChanged();
}

void RunHistoryModel::load(SessionsClient *client, const QString &sessionId, ObservedHistory *fallback)
{
    if (m_client)
        disconnect(m_client, nullptr, this, nullptr);
    if (m_fallback)
        disconnect(m_fallback, nullptr, this, nullptr);
    clear();
    m_client = client;
    m_fallback = fallback;
    m_session = sessionId;
    m_observed = false;
    if (client) {
        connect(client, &SessionsClient::runSeen, this, &RunHistoryModel::updateRun);
        connect(client, &SessionsClient::runTakenOver, this, [this](const QString &session, const QString &runId) {
            if (session == m_session || rowForRun(runId) >= 0 || m_sessionIds.contains(session))
                refresh();
        });
    }
    if (fallback) {
        connect(fallback, &ObservedHistory::historyChanged, this, [this](const QString &session) {
            if (m_observed && (session == m_session || m_sessionIds.contains(session)))
                useObserved();
        });
    }
    refresh();
}

void RunHistoryModel::refresh()
{
    if (!m_client || m_session.isEmpty())
        return;
    const quint64 generation = ++m_generation;
    if (m_client->runsExtension() == SessionsClient::RunsExtension::Unavailable) {
        useObserved();
        return;
    }
    setLoading(true);
    m_client->listSessionRuns(m_session, this, [this, generation](Result<QList<SessionRunEntry>> result) {
        if (generation != m_generation)
            return; // a newer load or refresh is under way
        setLoading(false);
        if (!result) {
            if (m_client && m_client->runsExtension() == SessionsClient::RunsExtension::Unavailable)
                useObserved();
            else
                Q_EMIT loadFailed(result.error());
            return;
        }
        m_observed = false;
        QList<RunHistoryEntry> entries;
        for (const SessionRunEntry &row : std::as_const(*result)) {
            if (!row.sessionId.isEmpty())
                m_sessionIds.insert(row.sessionId);
            entries.append(RunHistoryEntry::fromSessionRun(row));
        }
        setEntries(entries);
        lookUpMissingDetails();
    });
}

void RunHistoryModel::useObserved()
{
    if (!m_fallback) {
        Q_EMIT loadFailed(Error::make(
            tr("This backend has no run history (/runs) and nothing observed the session's runs")));
        return;
    }
    m_observed = true;
    setObservedRuns(m_fallback->runs(m_session));
    lookUpMissingDetails();
}

void RunHistoryModel::lookUpMissingDetails()
{
    if (!m_client)
        return;
    for (const RunHistoryEntry &e : rows()) {
        if ((!e.version.isEmpty() && !e.status.isEmpty()) || m_lookedUp.contains(e.runId))
            continue;
        m_lookedUp.insert(e.runId);
        // The answer arrives through SessionsClient::runSeen -> updateRun.
        m_client->retrieveRun(e.runId, this, [this](Result<RunDetails> run) {
            if (!run)
                Q_EMIT loadFailed(run.error());
        });
    }
}

void RunHistoryModel::setLoading(bool loading)
{
    if (loading == m_loading)
        return;
    m_loading = loading;
    Q_EMIT loadingChanged(loading);
}

} // namespace sessionscope
