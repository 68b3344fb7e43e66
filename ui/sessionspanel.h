#pragma once

#include "net/result.h"

#include <QPointer>
#include <QTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace sessionscope {

class SessionListModel;
class SessionsClient;

// The session browser: the server-side filters (status, type, task, tag,
// externalId, created period), paging as the table scrolls or with "Load
// more", auto-refresh, a search box over the loaded rows, and the actions on
// a session (new, open, close with reason, edit tags and metadata).
class SessionsPanel : public QWidget
{
    Q_OBJECT

public:
    explicit SessionsPanel(QWidget *parent = nullptr);

    void setClient(SessionsClient *client);
    SessionListModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    QString selectedSessionId() const;
    void refresh();
    void closeSelected();
    void editSelected();

Q_SIGNALS:
    void openRequested(const QString &sessionId);
    void newSessionRequested();
    void problem(const QString &message);

private:
    void applyFilter();
    void setStatus(const QString &text, bool error = false);

    QPointer<SessionsClient> m_client;
    SessionListModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QComboBox *m_status;
    QLineEdit *m_type;
    QLineEdit *m_task;
    QLineEdit *m_tag;
    QLineEdit *m_externalId;
    QComboBox *m_period;
    QLineEdit *m_search;
    QCheckBox *m_autoRefresh;
    QPushButton *m_more;
    QLabel *m_statusLabel;
    QTimer m_refreshTimer;
};

} // namespace sessionscope
