#pragma once

#include "net/sessionsclient.h"
#include "ui/backendconnection.h"

#include <QMainWindow>
#include <QPointer>
#include <QStringList>

class QLabel;
class QSystemTrayIcon;
class QTabWidget;

namespace sessionscope {

class ProfileStore;
class SessionView;
class SessionsPanel;

// The console: sessions on the left, watched sessions in tabs, the backend
// and its state in the title and the status bar, notifications when a
// watched session upgrades, errors or its token nears expiry. Layout, column
// widths and the open sessions are restored from QSettings.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(BackendConnection *backend, QWidget *parent = nullptr);
    ~MainWindow() override;

    BackendConnection *backend() const { return m_backend; }
    SessionsPanel *sessionsPanel() const { return m_sessions; }
    QTabWidget *sessionTabs() const { return m_tabs; }
    SessionView *currentSessionView() const;
    SessionView *sessionView(const QString &sessionId) const;
    // Opens (or focuses) the tab of a session.
    SessionView *openSession(const QString &sessionId);
    // Creates a session; the view opens when the server answers and, when
    // `firstMessage` is set, sends it.
    void createSession(const CreateSessionRequest &request, const QString &firstMessage = {});
    void newSessionDialog();
    void exportCurrentSession(const QString &recordsPath = {}, const QString &transcriptPath = {});
    void openExportedFile(const QString &path = {});
    void showConnections();

    // Everything notify() said, newest last.
    const QStringList &notifications() const { return m_notifications; }
    QString statusText() const;

Q_SIGNALS:
    void sessionOpened(sessionscope::SessionView *view);
    void exportFinished(const QString &error);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildMenus();
    void updateTitle();
    void notify(const QString &message, bool important);
    void restoreSettings();
    void saveSettings();
    void watch(SessionView *view);

    QPointer<BackendConnection> m_backend;
    SessionsPanel *m_sessions;
    QTabWidget *m_tabs;
    QLabel *m_backendLabel;
    QSystemTrayIcon *m_tray = nullptr;
    ProfileStore *m_profiles = nullptr;
    QStringList m_notifications;
    QStringList m_restoreSessions;
};

} // namespace sessionscope
