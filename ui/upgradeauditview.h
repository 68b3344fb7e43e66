#pragma once

#include <QPointer>
#include <QWidget>

class QLabel;
class QTableView;

namespace sessionscope {

class UpgradeAuditModel;

// The Upgrade audit tab: each upgrade with the versions on both sides, the
// clientData change that caused it, the upgrade-required seq and the wait.
class UpgradeAuditView : public QWidget
{
    Q_OBJECT

public:
    explicit UpgradeAuditView(QWidget *parent = nullptr);

    void setModel(UpgradeAuditModel *model);
    QTableView *table() const { return m_table; }

Q_SIGNALS:
    // Double-clicking a row asks the inspector to show its upgrade-required record.
    void showRecordRequested(qint64 outSeq);

private:
    void updateNote();

    QPointer<UpgradeAuditModel> m_model;
    QTableView *m_table;
    QLabel *m_note;
};

} // namespace sessionscope
