// The main window's state across restarts (QSettings), the Connections
// dialog against a real profile store, and the observed history the console
// keeps of the embedded backend.
#include "uitesthelpers.h"

#include "net/observedhistory.h"
#include "net/profilestore.h"
#include "net/sessionsclient.h"
#include "ui/backendconnection.h"
#include "ui/connectionsdialog.h"
#include "ui/mainwindow.h"
#include "ui/sessionview.h"

#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;

class TestMainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void restoresLayoutAndOpenSessions();
    void connectionsDialogSavesAndConnects();
    void observedHistoryFollowsTheBackend();

private:
    static QStringList openSessionIds(MainWindow &window);
    static SessionView *createSession(MainWindow &window, const QString &externalId);

    QTemporaryDir m_dir;
    BackendConnection *m_backend = nullptr;
};

void TestMainWindow::initTestCase()
{
    QVERIFY(m_dir.isValid());
    qRegisterMetaType<SessionView *>();
    QStandardPaths::setTestModeEnabled(true);
    qputenv("SESSIONSCOPE_DATA_DIR", m_dir.filePath(QStringLiteral("appdata")).toUtf8());
    QCoreApplication::setOrganizationName(QStringLiteral("sessionscope-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_mainwindow"));
    QSettings().clear();
    m_backend = new BackendConnection;
    const auto started = m_backend->startEmbedded(m_dir.filePath(QStringLiteral("server")));
    QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->state(), BackendConnection::State::Connected, 10000);
}

void TestMainWindow::cleanupTestCase()
{
    delete m_backend;
    QSettings().clear();
}

QStringList TestMainWindow::openSessionIds(MainWindow &window)
{
    QStringList ids;
    auto *tabs = window.findChild<QTabWidget *>();
    for (int i = 0; tabs && i < tabs->count(); ++i) {
        if (auto *view = qobject_cast<SessionView *>(tabs->widget(i)))
            ids << view->sessionId();
    }
    return ids;
}

SessionView *TestMainWindow::createSession(MainWindow &window, const QString &externalId)
{
    CreateSessionRequest request;
    request.taskIdentifier = QStringLiteral("chat-agent");
    request.externalId = externalId;
    request.basePayload = QJsonObject{{QStringLiteral("chatId"), externalId},
                                      {QStringLiteral("trigger"), QStringLiteral("preload")},
                                      {QStringLiteral("metadata"), QJsonObject{{QStringLiteral("userId"), QStringLiteral("dev")}}}};
    QSignalSpy opened(&window, &MainWindow::sessionOpened);
    window.createSession(request);
    if (!opened.wait(10000))
        return nullptr;
    return opened.first().first().value<SessionView *>();
}

void TestMainWindow::restoresLayoutAndOpenSessions()
{
    QStringList expected;
    QSize expectedSize;
    {
        MainWindow window(m_backend);
        window.resize(1280, 820);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(createSession(window, QStringLiteral("restore-a")));
        QVERIFY(createSession(window, QStringLiteral("restore-b")));
        expected = openSessionIds(window);
        expectedSize = window.size();
        QCOMPARE(expected.size(), 2);
        window.close(); // saves the layout and the open sessions
    }
    MainWindow again(m_backend);
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QCOMPARE(again.size(), expectedSize);
    QTRY_COMPARE_WITH_TIMEOUT(openSessionIds(again), expected, 5000);
    uitest::saveScreenshot(&again, QStringLiteral("mainwindow-restored"));
    again.close();
}

void TestMainWindow::connectionsDialogSavesAndConnects()
{
    ProfileStore store(m_dir.filePath(QStringLiteral("profiles")));
    store.setKeychainMode(ProfileStore::KeychainMode::Off);
    ConnectionsDialog dialog(&store);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));

    auto *name = dialog.findChild<QLineEdit *>(QStringLiteral("name"));
    auto *kind = dialog.findChild<QComboBox *>(QStringLiteral("kind"));
    auto *baseUrl = dialog.findChild<QLineEdit *>(QStringLiteral("baseUrl"));
    auto *inUrl = dialog.findChild<QLineEdit *>(QStringLiteral("inUrl"));
    auto *key = dialog.findChild<QLineEdit *>(QStringLiteral("secretKey"));
    auto *status = dialog.findChild<QLabel *>(QStringLiteral("status"));
    auto *save = dialog.findChild<QPushButton *>(QStringLiteral("save"));
    auto *connectButton = dialog.findChild<QPushButton *>(QStringLiteral("connect"));
    auto *list = dialog.findChild<QListWidget *>(QStringLiteral("profiles"));
    QVERIFY(name && kind && baseUrl && inUrl && key && status && save && connectButton && list);
    const qsizetype before = store.profiles().size(); // the cloud profile is always offered
    auto *edgeKey = dialog.findChild<QLineEdit *>(QStringLiteral("edgeNamespace"));
    QVERIFY(edgeKey);

    // A bad URL is refused where the user is looking, and nothing is stored.
    name->setText(QStringLiteral("headless"));
    kind->setCurrentIndex(kind->findData(int(BackendKind::SelfHosted)));
    baseUrl->setText(QStringLiteral("not a url"));
    QTest::mouseClick(save, Qt::LeftButton);
    QVERIFY(status->text().contains(QStringLiteral("not a valid URL")));
    QCOMPARE(store.profiles().size(), before);
    QVERIFY(!store.profile(QStringLiteral("headless")));

    // A self-hosted profile whose .in goes through another host, as an edge
    // proxy setup has it; the key lands in the 0600 file here (no keychain).
    const QString base = m_backend->profile().baseUrl.toString();
    baseUrl->setText(base);
    inUrl->setText(base);
    edgeKey->setText(QStringLiteral("__edge"));
    key->setText(m_backend->profile().secretKey);
    QTest::mouseClick(save, Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(status->text().startsWith(QStringLiteral("Saved")), 5000);
    QCOMPARE(list->count(), int(before) + 1);
    const auto stored = store.profile(QStringLiteral("headless"));
    QVERIFY(stored.has_value());
    QCOMPARE(stored->kind, BackendKind::SelfHosted);
    QCOMPARE(stored->edgeNamespace, QStringLiteral("__edge"));
    QVERIFY(stored->secretKey.isEmpty()); // keys never sit in profiles.json
    QFile profiles(store.profilesPath());
    QVERIFY(profiles.open(QIODevice::ReadOnly));
    QVERIFY(!profiles.readAll().contains(m_backend->profile().secretKey.toUtf8()));
    QCOMPARE(QFile::permissions(store.secretsPath()) & (QFileDevice::ReadGroup | QFileDevice::ReadOther),
             QFileDevice::Permissions());
    uitest::saveScreenshot(&dialog, QStringLiteral("connections-dialog"));

    // Connect hands the resolved profile (key included) to whoever asked.
    QSignalSpy requested(&dialog, &ConnectionsDialog::connectRequested);
    QTest::mouseClick(connectButton, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(requested.size(), 1, 5000);
    const auto profile = requested.first().first().value<ConnectionProfile>();
    QCOMPARE(profile.name, QStringLiteral("headless"));
    QCOMPARE(profile.secretKey, m_backend->profile().secretKey);
    QCOMPARE(profile.edgeNamespace, QStringLiteral("__edge"));
}

void TestMainWindow::observedHistoryFollowsTheBackend()
{
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->observedHistory() != nullptr, 5000);
    ObservedHistory *history = m_backend->observedHistory();
    MainWindow window(m_backend);
    window.show();
    SessionView *view = createSession(window, QStringLiteral("observed-1"));
    QVERIFY(view);
    // The create call revealed the first run; the journal has it on disk.
    QTRY_VERIFY_WITH_TIMEOUT(!history->runs(view->sessionId()).isEmpty(), 5000);
    history->flush();
    ObservedHistory reread(BackendConnection::journalPathFor(m_backend->profile().baseUrl));
    QVERIFY(reread.open().ok());
    QCOMPARE(reread.runs(view->sessionId()).size(), history->runs(view->sessionId()).size());
    window.close();
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
