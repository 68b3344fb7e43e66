#pragma once

#include "models/keyedrowsmodel.h"
#include "models/upgradeauditjoin.h"
#include "models/upgradeevidence.h"

#include <QPointer>

namespace sessionscope {

class RunHistoryModel;
struct RecordBatch;

// The upgrade audit of one session, newest first: when a run was replaced
// because of an upgrade, from which run and version to which, the clientData
// change that caused it, the `.out` seq of the upgrade-required record, and
// how long the user waited from that send to the new run's first chunk.
//
// Columns (DisplayRole):
//   WhenColumn             local "yyyy-MM-dd HH:mm:ss"
//   FromColumn, ToColumn   "run_… (20261121.3)"
//   ReasonColumn
//   ClientDataChangeColumn `appVersion: "1" → "2"` (ToolTipRole: the send's .in seq)
//   UpgradeSeqColumn       the seq, or "—" for an upgrade requested inside a turn
//   LatencyColumn          "1.2 s"
// SortRole gives raw values; the roles below give each field.
//
// Inputs come from wherever the console has them: the runs (setRuns, or
// follow a RunHistoryModel), `.out` records (observe), the client's own sends
// (addSend) and ObservedHistory's upgrades. Each change re-runs the
// UpgradeAuditJoin and merges the result into the rows.
class UpgradeAuditModel : public KeyedRowsModel<UpgradeAuditRow>
{
    Q_OBJECT

public:
    enum Column {
        WhenColumn,
        FromColumn,
        ToColumn,
        ReasonColumn,
        ClientDataChangeColumn,
        UpgradeSeqColumn,
        LatencyColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role {
        WhenRole = Qt::UserRole + 1, // QDateTime
        FromRunIdRole,
        FromVersionRole,
        ToRunIdRole,
        ToVersionRole,
        ReasonRole,
        ClientDataChangeRole, // QString summary
        ChangedPathsRole,     // QStringList
        TriggerInSeqRole,     // qint64, invalid when no send was matched
        UpgradeSeqRole,       // qint64, invalid when no upgrade-required record was seen
        FirstChunkSeqRole,    // qint64, invalid when unknown
        LatencyMsRole,        // qint64, invalid when unknown
        SortRole,
    };
    Q_ENUM(Role)

    explicit UpgradeAuditModel(QObject *parent = nullptr);

    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    void setRuns(const QList<RunHistoryEntry> &runs);
    // Takes the runs from `history` now and whenever they change.
    void followRunHistory(RunHistoryModel *history);
    void setObservedUpgrades(const QList<ObservedUpgrade> &upgrades);
    void addSend(const ClientSend &send);
    void setSends(const QList<ClientSend> &sends);
    // `.out` records as they arrive; receivedAtMs is this client's clock.
    void observe(const QList<StreamRecord> &outRecords, qint64 receivedAtMs);
    void observe(const RecordBatch &batch, qint64 receivedAtMs);
    void clear();

    const UpgradeEvidence &evidence() const { return m_evidence; }

protected:
    QString rowKey(const UpgradeAuditRow &row) const override { return row.key; }

private:
    void rebuild();
    QVariant roleData(const UpgradeAuditRow &row, int role) const;

    UpgradeAuditJoin m_join;
    UpgradeEvidence m_evidence;
    QPointer<RunHistoryModel> m_history;
};

} // namespace sessionscope
