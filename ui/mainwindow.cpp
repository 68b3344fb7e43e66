#include "ui/mainwindow.h"

#include "models/streamrecordmodel.h"
#include "models/conversationmodel.h"
#include "net/profilestore.h"
#include "ui/connectionsdialog.h"
#include "ui/newsessiondialog.h"
#include "ui/sessionexporter.h"
#include "ui/sessionspanel.h"
#include "ui/sessionview.h"
#include "ui/composerpanel.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTabWidget>
#include <QTableView>

namespace sessionscope {

MainWindow::MainWindow(BackendConnection *backend, QWidget *parent)
    : QMainWindow(parent), m_backend(backend), m_sessions(new SessionsPanel(this)), m_tabs(new QTabWidget(this)),
      m_backendLabel(new QLabel(this))
{
    setObjectName(QStringLiteral("mainWindow"));
    m_tabs->setTabsClosable(true);
    m_tabs->setDocumentMode(true);
    m_tabs->setMovable(true);
    auto *placeholder = new QLabel(tr("<h3>No session open</h3><p>Create one with <b>New…</b> in the sessions panel "
                                      "or open one from the list.</p>"),
                                   m_tabs);
    placeholder->setAlignment(Qt::AlignCenter);
    m_tabs->addTab(placeholder, tr("Welcome"));
    setCentralWidget(m_tabs);

    auto *dock = new QDockWidget(tr("Sessions"), this);
    dock->setObjectName(QStringLiteral("sessionsDock"));
    dock->setWidget(m_sessions);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    // The sessions list is a navigator; the session itself gets the room.
    resizeDocks({dock}, {340}, Qt::Horizontal);

    m_backendLabel->setTextFormat(Qt::RichText);
    statusBar()->addPermanentWidget(m_backendLabel);
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new QSystemTrayIcon(windowIcon(), this);
        m_tray->show();
    }

    buildMenus();

    connect(m_tabs, &QTabWidget::tabCloseRequested, this, [this](int index) {
        QWidget *w = m_tabs->widget(index);
        m_tabs->removeTab(index);
        w->deleteLater();
    });
    connect(m_sessions, &SessionsPanel::openRequested, this, &MainWindow::openSession);
    connect(m_sessions, &SessionsPanel::newSessionRequested, this, &MainWindow::newSessionDialog);
    connect(m_backend, &BackendConnection::stateChanged, this, [this](BackendConnection::State state) {
        updateTitle();
        if (state == BackendConnection::State::Failed)
            notify(tr("Backend: %1").arg(m_backend->lastError()), true);
        if (state == BackendConnection::State::Connected) {
            const QStringList restore = std::exchange(m_restoreSessions, {});
            for (const QString &id : restore)
                openSession(id);
        }
    });
    connect(m_backend, &BackendConnection::clientChanged, this, [this](SessionsClient *client) {
        m_sessions->setClient(client);
    });
    m_sessions->setClient(m_backend->client());
    restoreSettings();
    updateTitle();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Connections…"), this, &MainWindow::showConnections);
    file->addSeparator();
    file->addAction(tr("&Export session…"), this, [this] { exportCurrentSession(); });
    file->addAction(tr("&Open exported file…"), this, [this] { openExportedFile(); });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu *session = menuBar()->addMenu(tr("&Session"));
    session->addAction(tr("&New…"), QKeySequence::New, this, &MainWindow::newSessionDialog);
    session->addAction(tr("&Close…"), m_sessions, &SessionsPanel::closeSelected);
    session->addAction(tr("&Tags and metadata…"), m_sessions, &SessionsPanel::editSelected);
    session->addAction(tr("&Refresh list"), QKeySequence::Refresh, m_sessions, &SessionsPanel::refresh);
    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About sessionscope"), this, [this] {
        QMessageBox::about(this, tr("About sessionscope"),
                           tr("<h3>sessionscope %1</h3><p>Debugging console for Trigger.dev chat-agent sessions.</p>"
                              "<p>Built with Qt %2, running on Qt %3.</p>")
                               .arg(QStringLiteral(SESSIONSCOPE_VERSION), QStringLiteral(QT_VERSION_STR),
                                    QString::fromLatin1(qVersion())));
    });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

QString MainWindow::statusText() const
{
    return m_backendLabel->text();
}

void MainWindow::updateTitle()
{
    if (!m_backend)
        return;
    const QString state = m_backend->stateText();
    setWindowTitle(tr("sessionscope — %1 — %2").arg(m_backend->describe(), state));
    QString colour = QStringLiteral("#616161");
    if (m_backend->state() == BackendConnection::State::Connected)
        colour = QStringLiteral("#2e7d32");
    else if (m_backend->state() == BackendConnection::State::Failed)
        colour = QStringLiteral("#c62828");
    else if (m_backend->state() == BackendConnection::State::Connecting)
        colour = QStringLiteral("#ef6c00");
    m_backendLabel->setText(tr("%1 <span style='color:%2'>&#9679; %3</span>")
                                .arg(m_backend->describe().toHtmlEscaped(), colour, state.toHtmlEscaped()));
}

void MainWindow::notify(const QString &message, bool important)
{
    m_notifications.append(message);
    statusBar()->showMessage(message, important ? 15000 : 6000);
    if (m_tray && important)
        m_tray->showMessage(tr("sessionscope"), message);
}

SessionView *MainWindow::currentSessionView() const
{
    return qobject_cast<SessionView *>(m_tabs->currentWidget());
}

SessionView *MainWindow::sessionView(const QString &sessionId) const
{
    for (int i = 0; i < m_tabs->count(); ++i) {
        auto *view = qobject_cast<SessionView *>(m_tabs->widget(i));
        if (view && !view->isOffline() && (view->sessionId() == sessionId || view->session().externalId == sessionId))
            return view;
    }
    return nullptr;
}

SessionView *MainWindow::openSession(const QString &sessionId)
{
    if (SessionView *existing = sessionView(sessionId)) {
        m_tabs->setCurrentWidget(existing);
        return existing;
    }
    if (!m_backend || !m_backend->client())
        return nullptr;
    auto *view = new SessionView(m_backend, sessionId, m_tabs);
    watch(view);
    m_tabs->setCurrentIndex(m_tabs->addTab(view, view->title()));
    Q_EMIT sessionOpened(view);
    return view;
}

void MainWindow::watch(SessionView *view)
{
    connect(view, &SessionView::titleChanged, this, [this, view](const QString &title) {
        const int index = m_tabs->indexOf(view);
        if (index >= 0)
            m_tabs->setTabText(index, title);
    });
    connect(view, &SessionView::upgraded, this, [this](const QString &id, const QString &detail) {
        notify(tr("%1 upgraded: %2").arg(id, detail), true);
    });
    connect(view, &SessionView::errorOccurred, this, [this](const QString &id, const QString &message) {
        notify(tr("%1: %2").arg(id, message), false);
    });
    connect(view, &SessionView::tokenExpiring, this, [this](const QString &id, qint64 left) {
        notify(tr("%1: the session token expires in %2 s").arg(id).arg(left), true);
    });
}

void MainWindow::newSessionDialog()
{
    NewSessionDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    if (auto request = dialog.request(); request.ok())
        createSession(*request, dialog.firstMessage());
}

void MainWindow::createSession(const CreateSessionRequest &request, const QString &firstMessage)
{
    SessionsClient *client = m_backend ? m_backend->client() : nullptr;
    if (!client) {
        notify(tr("Not connected: cannot create a session."), true);
        return;
    }
    client->createSession(request, this, [this, firstMessage](Result<CreatedSession> created) {
        if (!created.ok()) {
            notify(tr("Create failed: %1").arg(created.error().message), true);
            return;
        }
        SessionView *view = openSession(created->session.id);
        if (!view)
            return;
        view->setInitialToken(created->publicAccessToken);
        if (!firstMessage.isEmpty())
            view->composer()->sendMessage(firstMessage);
        m_sessions->refresh();
        notify(created->isCached ? tr("Session %1 already existed").arg(created->session.id)
                                 : tr("Created %1").arg(created->session.id),
               false);
    });
}

void MainWindow::exportCurrentSession(const QString &recordsPath, const QString &transcriptPath)
{
    SessionView *view = currentSessionView();
    if (!view) {
        notify(tr("Open a session to export it."), false);
        return;
    }
    QString records = recordsPath;
    if (records.isEmpty()) {
        records = QFileDialog::getSaveFileName(this, tr("Export records"), view->sessionId() + QStringLiteral(".jsonl"),
                                               tr("JSON lines (*.jsonl)"));
        if (records.isEmpty())
            return;
    }
    QString transcript = transcriptPath;
    if (transcript.isEmpty())
        transcript = QFileInfo(records).path() + QLatin1Char('/') + QFileInfo(records).completeBaseName()
                     + QStringLiteral(".transcript.json");
    auto *watcher = new QFutureWatcher<Result<void>>(this);
    const auto messages = view->conversationModel()->messages();
    const auto recordsFuture = SessionExporter::writeRecords(records, SessionExporter::snapshot(*view->recordModel()));
    connect(watcher, &QFutureWatcher<Result<void>>::finished, this, [this, watcher, transcript, records, messages] {
        watcher->deleteLater();
        if (const Result<void> r = watcher->result(); !r.ok()) {
            notify(r.error().message, true);
            Q_EMIT exportFinished(r.error().message);
            return;
        }
        auto *second = new QFutureWatcher<Result<void>>(this);
        connect(second, &QFutureWatcher<Result<void>>::finished, this, [this, second, records, transcript] {
            second->deleteLater();
            const Result<void> r = second->result();
            notify(r.ok() ? tr("Exported %1 and %2").arg(records, transcript) : r.error().message, !r.ok());
            Q_EMIT exportFinished(r.ok() ? QString() : r.error().message);
        });
        second->setFuture(SessionExporter::writeTranscript(transcript, messages));
    });
    watcher->setFuture(recordsFuture);
}

void MainWindow::openExportedFile(const QString &path)
{
    QString file = path;
    if (file.isEmpty()) {
        file = QFileDialog::getOpenFileName(this, tr("Open exported records"), QString(), tr("JSON lines (*.jsonl)"));
        if (file.isEmpty())
            return;
    }
    auto *watcher = new QFutureWatcher<Result<QList<ChannelRecord>>>(this);
    connect(watcher, &QFutureWatcher<Result<QList<ChannelRecord>>>::finished, this, [this, watcher, file] {
        watcher->deleteLater();
        const auto records = watcher->result();
        if (!records.ok()) {
            notify(records.error().message, true);
            return;
        }
        auto *view = new SessionView(QFileInfo(file).fileName(), *records, m_tabs);
        m_tabs->setCurrentIndex(m_tabs->addTab(view, view->title()));
        Q_EMIT sessionOpened(view);
    });
    watcher->setFuture(SessionExporter::readRecords(file));
}

void MainWindow::showConnections()
{
    if (!m_profiles)
        m_profiles = new ProfileStore(ProfileStore::defaultDirectory(), this);
    ConnectionsDialog dialog(m_profiles, this);
    connect(&dialog, &ConnectionsDialog::connectRequested, this, [this](const ConnectionProfile &profile) {
        m_backend->connectTo(profile);
    });
    connect(&dialog, &ConnectionsDialog::embeddedRequested, this, [this] {
        if (auto started = m_backend->startEmbedded(BackendConnection::defaultDataDir()); !started)
            notify(tr("Embedded server: %1").arg(started.error().message), true);
    });
    dialog.exec();
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    m_sessions->table()->horizontalHeader()->restoreState(settings.value(QStringLiteral("sessions/header")).toByteArray());
    m_restoreSessions = settings.value(QStringLiteral("sessions/open")).toStringList();
    if (m_backend && m_backend->state() == BackendConnection::State::Connected) {
        const QStringList restore = std::exchange(m_restoreSessions, {});
        for (const QString &id : restore)
            openSession(id);
    }
}

void MainWindow::saveSettings()
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("sessions/header"), m_sessions->table()->horizontalHeader()->saveState());
    QStringList open;
    for (int i = 0; i < m_tabs->count(); ++i) {
        auto *view = qobject_cast<SessionView *>(m_tabs->widget(i));
        if (view && !view->isOffline())
            open.append(view->sessionId());
    }
    settings.setValue(QStringLiteral("sessions/open"), open);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveSettings();
    QMainWindow::closeEvent(event);
}

} // namespace sessionscope
