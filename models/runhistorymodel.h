#pragma once

#include "models/keyedrowsmodel.h"
#include "models/runhistoryentry.h"
#include "net/result.h"

#include <QPointer>
#include <QSet>
#include <QString>

namespace sessionscope {

class ObservedHistory;
class SessionsClient;
struct ObservedRun;
struct RunDetails;

// The runs of one session, newest first: who took over, on which version,
// why, and how it went.
//
// Columns (DisplayRole):
//   RunIdColumn, VersionColumn, ReasonColumn, StatusColumn,
//   TriggeredColumn / StartedColumn / FinishedColumn (local "yyyy-MM-dd HH:mm:ss"),
//   DurationColumn ("1.2 s", "3 min 4 s"; still counting for a run going on)
// Every column answers the roles below; SortRole gives the column's raw
// value (QDateTime, qint64) for a QSortFilterProxyModel. The current run is
// bold (FontRole) and IsCurrentRole.
//
// Fed with setEntries() (rows from anywhere), or by load(), which asks the
// `/runs` extension and falls back to what ObservedHistory saw when the
// backend has none. Refreshes merge: new runs are inserted, changed runs
// updated in place.
class RunHistoryModel : public KeyedRowsModel<RunHistoryEntry>
{
    Q_OBJECT

public:
    enum Column {
        RunIdColumn,
        VersionColumn,
        ReasonColumn,
        StatusColumn,
        TriggeredColumn,
        StartedColumn,
        FinishedColumn,
        DurationColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role {
        RunIdRole = Qt::UserRole + 1,
        VersionRole,
        ReasonRole,
        StatusRole,
        TriggeredAtRole, // QDateTime (UTC)
        StartedAtRole,
        FinishedAtRole,
        DurationMsRole,  // qint64, invalid when unknown
        AuditIdRole,
        SourceRole,      // "runs", or how an observed run was seen
        IsCurrentRole,   // bool
        SortRole,
    };
    Q_ENUM(Role)

    explicit RunHistoryModel(QObject *parent = nullptr);

    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    void setEntries(const QList<RunHistoryEntry> &entries);
    void setObservedRuns(const QList<ObservedRun> &runs);
    // Fills in a run's details wherever it appears.
    void updateRun(const RunDetails &run);
    void setCurrentRunId(const QString &runId);
    QString currentRunId() const { return m_currentRunId; }
    void clear();
    int rowForRun(const QString &runId) const;

    // Follows one session: the `/runs` extension when the backend has it,
    // else `fallback` (may be null). Runs without details are looked up, and
    // a takeover the client sees triggers a refresh.
    void load(SessionsClient *client, const QString &sessionId, ObservedHistory *fallback = nullptr);
    void refresh();
    bool isLoading() const { return m_loading; }
    // Whether the rows came from ObservedHistory rather than audit rows.
    bool isObserved() const { return m_observed; }

    static QString formatDuration(qint64 ms);

Q_SIGNALS:
    // After every change of the rows: UpgradeAuditModel follows this.
    void entriesChanged();
    void loadingChanged(bool loading);
    void loadFailed(const sessionscope::Error &error);

protected:
    QString rowKey(const RunHistoryEntry &row) const override;

private:
    QVariant roleData(const RunHistoryEntry &entry, int role) const;
    void setLoading(bool loading);
    void useObserved();
    void lookUpMissingDetails();

    QString m_currentRunId;
    QPointer<SessionsClient> m_client;
    QPointer<ObservedHistory> m_fallback;
    QString m_session;
    quint64 m_generation = 0;
    bool m_loading = false;
    bool m_observed = false;
    QSet<QString> m_lookedUp;   // runs whose details were asked for
    QSet<QString> m_sessionIds; // the session's ids as the audit rows name it
};

} // namespace sessionscope
