#include "ui/upgradeauditview.h"

#include "models/upgradeauditmodel.h"
#include "ui/runhistoryview.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableView>
#include <QVBoxLayout>

namespace sessionscope {

UpgradeAuditView::UpgradeAuditView(QWidget *parent)
    : QWidget(parent), m_table(new QTableView(this)), m_note(new QLabel(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    m_note->setWordWrap(true);
    layout->addWidget(m_note);
    setUpHistoryTable(m_table, QStringLiteral("auditTable"));
    layout->addWidget(m_table, 1);
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex &index) {
        const QVariant seq = index.data(UpgradeAuditModel::UpgradeSeqRole);
        if (seq.isValid())
            Q_EMIT showRecordRequested(seq.toLongLong());
    });
}

void UpgradeAuditView::setModel(UpgradeAuditModel *model)
{
    m_model = model;
    m_table->setModel(model);
    connect(model, &QAbstractItemModel::rowsInserted, this, &UpgradeAuditView::updateNote);
    connect(model, &QAbstractItemModel::modelReset, this, &UpgradeAuditView::updateNote);
    connect(model, &QAbstractItemModel::dataChanged, this, &UpgradeAuditView::updateNote);
    updateNote();
}

void UpgradeAuditView::updateNote()
{
    const int n = m_model ? m_model->rowCount() : 0;
    m_note->setText(n == 0 ? tr("No upgrades yet. Deploy the next version, set a protocolVersion the running version "
                                "does not support in the clientData panel, and send.")
                           : tr("%n upgrade(s). Double-click a row to show its upgrade-required record.", nullptr, n));
}

} // namespace sessionscope
