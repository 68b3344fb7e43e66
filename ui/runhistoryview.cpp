#include "ui/runhistoryview.h"

#include "models/runhistorymodel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace sessionscope {

void setUpHistoryTable(QTableView *table, const QString &objectName)
{
    table->verticalHeader()->hide();
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table->horizontalHeader()->setStretchLastSection(true);
    table->setAlternatingRowColors(true);
    table->setObjectName(objectName);
}

RunHistoryView::RunHistoryView(QWidget *parent) : QWidget(parent), m_table(new QTableView(this)), m_note(new QLabel(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    auto *top = new QHBoxLayout;
    top->addWidget(m_note, 1);
    auto *refresh = new QPushButton(tr("Refresh"), this);
    top->addWidget(refresh);
    layout->addLayout(top);
    setUpHistoryTable(m_table, QStringLiteral("runsTable"));
    layout->addWidget(m_table, 1);
    connect(refresh, &QPushButton::clicked, this, [this] {
        if (m_model)
            m_model->refresh();
    });
}

void RunHistoryView::setModel(RunHistoryModel *model)
{
    m_model = model;
    m_table->setModel(model);
    connect(model, &RunHistoryModel::entriesChanged, this, &RunHistoryView::updateNote);
    connect(model, &RunHistoryModel::loadingChanged, this, &RunHistoryView::updateNote);
    connect(model, &RunHistoryModel::loadFailed, this, [this](const Error &error) {
        m_note->setText(tr("Cannot load runs: %1").arg(error.message));
        m_note->setStyleSheet(QStringLiteral("color:#c62828"));
    });
    updateNote();
}

void RunHistoryView::updateNote()
{
    if (!m_model)
        return;
    m_note->setStyleSheet(QString());
    QString text = tr("%n run(s)", nullptr, m_model->rowCount());
    if (m_model->isObserved())
        text += tr(" · observed by this console (the backend has no /runs history)");
    if (m_model->isLoading())
        text += tr(" · loading…");
    m_note->setText(text);
}

} // namespace sessionscope
