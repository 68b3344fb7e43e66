#pragma once

#include <QPointer>
#include <QWidget>

class QLabel;
class QTableView;

namespace sessionscope {

class RunHistoryModel;

// The read-only, row-selecting table look the Runs and Upgrade audit tabs share.
void setUpHistoryTable(QTableView *table, const QString &objectName);

// The Runs tab: every run that took over the session, its version, why, and
// how it went; says whether rows are audit rows or only observed.
class RunHistoryView : public QWidget
{
    Q_OBJECT

public:
    explicit RunHistoryView(QWidget *parent = nullptr);

    void setModel(RunHistoryModel *model);
    QTableView *table() const { return m_table; }

private:
    void updateNote();

    QPointer<RunHistoryModel> m_model;
    QTableView *m_table;
    QLabel *m_note;
};

} // namespace sessionscope
