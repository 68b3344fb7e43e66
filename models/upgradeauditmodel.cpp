#include "models/upgradeauditmodel.h"

#include "models/runhistorymodel.h"

namespace sessionscope {

namespace {

QString runText(const QString &runId, const QString &version)
{
    if (runId.isEmpty())
        return {};
    return version.isEmpty() ? runId : QStringLiteral("%1 (%2)").arg(runId, version);
}

QVariant seqOrInvalid(qint64 seq)
{
    return seq >= 0 ? QVariant(seq) : QVariant();
}

} // namespace

UpgradeAuditModel::UpgradeAuditModel(QObject *parent) : KeyedRowsModel<UpgradeAuditRow>(parent) {}

int UpgradeAuditModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant UpgradeAuditModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const UpgradeAuditRow &r = rows().at(index.row());
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case WhenColumn:
            return r.when.isValid() ? r.when.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QString();
        case FromColumn:
            return runText(r.fromRunId, r.fromVersion);
        case ToColumn:
            return runText(r.toRunId, r.toVersion);
        case ReasonColumn:
            return r.reason;
        case ClientDataChangeColumn:
            if (!r.triggerKnown)
                return tr("(no send matched)");
            return r.clientDataChange.isEmpty() ? tr("(no change)") : r.clientDataChange.summary();
        case UpgradeSeqColumn:
            return r.upgradeSeq >= 0 ? QVariant(r.upgradeSeq) : QVariant(QStringLiteral("\u2014"));
        case LatencyColumn:
            return r.latencyMs ? QVariant(RunHistoryModel::formatDuration(qMax<qint64>(0, *r.latencyMs))) : QVariant();
        }
        return {};
    }
    if (role == SortRole) {
        switch (index.column()) {
        case WhenColumn:
            return r.when;
        case UpgradeSeqColumn:
            return r.upgradeSeq;
        case LatencyColumn:
            return r.latencyMs ? QVariant(*r.latencyMs) : QVariant();
        default:
            return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::ToolTipRole) {
        if (index.column() == ClientDataChangeColumn && r.triggerKnown)
            return tr("Sent as .in seq %1").arg(r.triggerInSeq);
        if (index.column() == UpgradeSeqColumn && r.upgradeSeq < 0)
            return tr("No upgrade-required record seen: the upgrade was requested inside a turn, or the record "
                      "was trimmed before this client subscribed");
        if (index.column() == LatencyColumn && r.firstChunkSeq >= 0)
            return tr("First chunk of the new run: .out seq %1").arg(r.firstChunkSeq);
        return {};
    }
    return roleData(r, role);
}

QVariant UpgradeAuditModel::roleData(const UpgradeAuditRow &r, int role) const
{
    switch (role) {
    case WhenRole:
        return r.when;
    case FromRunIdRole:
        return r.fromRunId;
    case FromVersionRole:
        return r.fromVersion;
    case ToRunIdRole:
        return r.toRunId;
    case ToVersionRole:
        return r.toVersion;
    case ReasonRole:
        return r.reason;
    case ClientDataChangeRole:
        return r.clientDataChange.summary();
    case ChangedPathsRole:
        return r.clientDataChange.paths();
    case TriggerInSeqRole:
        return r.triggerKnown ? QVariant(r.triggerInSeq) : QVariant();
    case UpgradeSeqRole:
        return seqOrInvalid(r.upgradeSeq);
    case FirstChunkSeqRole:
        return seqOrInvalid(r.firstChunkSeq);
    case LatencyMsRole:
        return r.latencyMs ? QVariant(*r.latencyMs) : QVariant();
    }
    return {};
}

QVariant UpgradeAuditModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return KeyedRowsModel::headerData(section, orientation, role);
    switch (section) {
    case WhenColumn:
        return tr("When");
    case FromColumn:
        return tr("From");
    case ToColumn:
        return tr("To");
    case ReasonColumn:
        return tr("Reason");
    case ClientDataChangeColumn:
        return tr("clientData change");
    case UpgradeSeqColumn:
        return tr("upgrade-required seq");
    case LatencyColumn:
        return tr("Send to first chunk");
    }
    return {};
}

QHash<int, QByteArray> UpgradeAuditModel::roleNames() const
{
    QHash<int, QByteArray> names = KeyedRowsModel::roleNames();
    names.insert(WhenRole, "when");
    names.insert(FromRunIdRole, "fromRunId");
    names.insert(FromVersionRole, "fromVersion");
    names.insert(ToRunIdRole, "toRunId");
    names.insert(ToVersionRole, "toVersion");
    names.insert(ReasonRole, "reason");
    names.insert(ClientDataChangeRole, "clientDataChange");
    names.insert(ChangedPathsRole, "changedPaths");
    names.insert(TriggerInSeqRole, "triggerInSeq");
    names.insert(UpgradeSeqRole, "upgradeSeq");
    names.insert(FirstChunkSeqRole, "firstChunkSeq");
    names.insert(LatencyMsRole, "latencyMs");
    names.insert(SortRole, "sort");
    return names;
}

void UpgradeAuditModel::setRuns(const QList<RunHistoryEntry> &runs)
{
    m_join.setRuns(runs);
    rebuild();
}

void UpgradeAuditModel::followRunHistory(RunHistoryModel *history)
{
    if (m_history)
        disconnect(m_history, nullptr, this, nullptr);
    m_history = history;
    if (!history)
        return;
    connect(history, &RunHistoryModel::entriesChanged, this, [this] {
        if (m_history)
            setRuns(m_history->rows());
    });
    setRuns(history->rows());
}

void UpgradeAuditModel::setObservedUpgrades(const QList<ObservedUpgrade> &upgrades)
{
    m_join.setObservedUpgrades(upgrades);
    rebuild();
}

void UpgradeAuditModel::addSend(const ClientSend &send)
{
    m_join.addSend(send);
    rebuild();
}

void UpgradeAuditModel::setSends(const QList<ClientSend> &sends)
{
    m_join.setSends(sends);
    rebuild();
}

void UpgradeAuditModel::observe(const QList<StreamRecord> &outRecords, qint64 receivedAtMs)
{
    const QList<UpgradeMarker> old = m_evidence.markers();
    m_evidence.observe(outRecords, receivedAtMs);
    if (m_evidence.markers() != old) {
        m_join.setMarkers(m_evidence.markers());
        rebuild();
    }
}

void UpgradeAuditModel::observe(const RecordBatch &batch, qint64 receivedAtMs)
{
    const QList<UpgradeMarker> old = m_evidence.markers();
    m_evidence.observe(batch, receivedAtMs);
    if (m_evidence.markers() != old) {
        m_join.setMarkers(m_evidence.markers());
        rebuild();
    }
}

void UpgradeAuditModel::clear()
{
    m_join = UpgradeAuditJoin{};
    m_evidence.clear();
    clearRows();
}

void UpgradeAuditModel::rebuild()
{
    syncRows(m_join.rows());
}

} // namespace sessionscope
