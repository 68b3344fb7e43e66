#include "../ui/uitesthelpers.h"

#include "models/conversationmodel.h"
#include "models/streamrecordmodel.h"
#include "models/upgradeauditmodel.h"
#include "net/sessionsclient.h"
#include "ui/backendconnection.h"
#include "ui/clientdatapanel.h"
#include "ui/composerpanel.h"
#include "ui/runhistoryview.h"
#include "ui/mainwindow.h"
#include "ui/sessionview.h"
#include "ui/streaminspector.h"
#include "ui/transcriptview.h"
#include "ui/upgradeauditview.h"

#include <QComboBox>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;

// The upgrade walk-through against the real embedded server, driven through
// the widgets: create, send, read the answer, deploy the next version, ask
// for a protocolVersion only it supports, and find the upgrade in the audit
// tab and the upgrade-required record in the inspector.
class TestUpgradeFlow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void upgradeWalkThrough();
    void stopMidStream();

private:
    SessionView *createSession(const QString &externalId, const QString &protocolVersion);
    static int rowsOfType(StreamRecordModel *model, const QString &type);

    QTemporaryDir m_dir;
    BackendConnection *m_backend = nullptr;
    MainWindow *m_window = nullptr;
};

void TestUpgradeFlow::initTestCase()
{
    QVERIFY(m_dir.isValid());
    qRegisterMetaType<SessionView *>();
    QCoreApplication::setOrganizationName(QStringLiteral("sessionscope-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_upgradeflow"));
    QSettings().clear();
    m_backend = new BackendConnection;
    m_window = new MainWindow(m_backend);
    m_window->resize(1600, 1000);
    m_window->show();
    QElapsedTimer startup;
    startup.start();
    const auto started = m_backend->startEmbedded(m_dir.path() + QStringLiteral("/data"));
    QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->state(), BackendConnection::State::Connected, 10000);
    qInfo("embedded server up and connected in %lld ms", startup.elapsed());
    QVERIFY(m_window->windowTitle().contains(QStringLiteral("embedded server")));
    QVERIFY(m_window->windowTitle().contains(QStringLiteral("connected")));
}

void TestUpgradeFlow::cleanupTestCase()
{
    delete m_window;
    delete m_backend;
}

SessionView *TestUpgradeFlow::createSession(const QString &externalId, const QString &protocolVersion)
{
    CreateSessionRequest request;
    request.taskIdentifier = QStringLiteral("chat-agent");
    request.externalId = externalId;
    request.basePayload = QJsonObject{
        {QStringLiteral("chatId"), externalId},
        {QStringLiteral("trigger"), QStringLiteral("preload")},
        {QStringLiteral("metadata"), QJsonObject{{QStringLiteral("userId"), QStringLiteral("dev")},
                                                 {QStringLiteral("protocolVersion"), protocolVersion}}}};
    QSignalSpy opened(m_window, &MainWindow::sessionOpened);
    m_window->createSession(request);
    if (!opened.wait(10000))
        return nullptr;
    return opened.first().first().value<SessionView *>();
}

int TestUpgradeFlow::rowsOfType(StreamRecordModel *model, const QString &type)
{
    int n = 0;
    for (int row = 0; row < model->rowCount(); ++row)
        n += model->index(row, 0).data(StreamRecordModel::TypeRole).toString() == type;
    return n;
}

void TestUpgradeFlow::upgradeWalkThrough()
{
    SessionView *view = createSession(QStringLiteral("e2e-upgrade"), QStringLiteral("v1"));
    QVERIFY(view);
    QCOMPARE(m_window->currentSessionView(), view);

    // First turn on the current version: the answer renders.
    view->composer()->messageEdit()->setPlainText(QStringLiteral("hello there"));
    QTest::mouseClick(view->composer()->sendButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(view->composer()->sendsTable()->rowCount(), 1, 2000);
    const QString firstPart = view->composer()->sendsTable()->item(0, 2)->text();
    QTRY_COMPARE_WITH_TIMEOUT(view->composer()->sendState(firstPart), QStringLiteral("answered"), 20000);
    QVERIFY2(!view->composer()->answeredBy(firstPart).contains(QStringLiteral("NO content")),
             qPrintable(view->composer()->answeredBy(firstPart)));
    view->inspector()->setRendered(true);
    QTRY_VERIFY_WITH_TIMEOUT(view->inspector()->transcriptView()->plainTranscript().contains(QStringLiteral("hello there")),
                             5000);
    QTRY_VERIFY_WITH_TIMEOUT(view->conversationModel()->messages().size() >= 2, 5000);
    uitest::saveScreenshot(view->inspector(), QStringLiteral("inspector-rendered"));
    view->inspector()->setRendered(false);
    uitest::saveScreenshot(view->inspector(), QStringLiteral("inspector-raw"));
    uitest::saveScreenshot(view->composer(), QStringLiteral("composer"));

    // Deploy the next version from the clientData panel.
    ClientDataPanel *cd = view->clientDataPanel();
    QTRY_VERIFY_WITH_TIMEOUT(cd->deployButton()->isVisible(), 5000);
    QTRY_COMPARE_WITH_TIMEOUT(cd->versions().size(), 1, 5000);
    QTest::mouseClick(cd->deployButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(cd->versions().size(), 2, 5000);
    QVERIFY(cd->versions().last().supportedProtocolVersions.contains(QStringLiteral("v2")));

    // Ask for v2, which the running (current) version does not support.
    cd->protocolVersionField()->setCurrentText(QStringLiteral("v2"));
    QVERIFY(cd->clientData().ok());
    QCOMPARE(cd->clientData()->toObject().value(QStringLiteral("protocolVersion")).toString(), QStringLiteral("v2"));
    QVERIFY2(cd->diffText().contains(QStringLiteral("protocolVersion")), qPrintable(cd->diffText()));
    uitest::saveScreenshot(cd, QStringLiteral("clientdata"));
    view->composer()->messageEdit()->setPlainText(QStringLiteral("after the upgrade"));
    QTest::mouseClick(cd->sendButton(), Qt::LeftButton);

    QTRY_VERIFY_WITH_TIMEOUT(rowsOfType(view->recordModel(), QStringLiteral("upgrade-required")) == 1, 20000);
    m_window->grab();
    uitest::saveScreenshot(m_window, QStringLiteral("mainwindow"));

    // The audit tab shows the upgrade with both versions.
    UpgradeAuditModel *audit = view->auditModel();
    QTRY_VERIFY_WITH_TIMEOUT(audit->rowCount() == 1, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(!audit->index(0, 0).data(UpgradeAuditModel::ToVersionRole).toString().isEmpty()
                                 && !audit->index(0, 0).data(UpgradeAuditModel::FromVersionRole).toString().isEmpty(),
                             10000);
    const QString from = audit->index(0, 0).data(UpgradeAuditModel::FromVersionRole).toString();
    const QString to = audit->index(0, 0).data(UpgradeAuditModel::ToVersionRole).toString();
    QVERIFY2(from != to, qPrintable(from + QStringLiteral(" -> ") + to));
    QCOMPARE(to, cd->versions().last().label);
    QVERIFY(audit->index(0, 0).data(UpgradeAuditModel::UpgradeSeqRole).isValid());
    view->tabs()->setCurrentWidget(view->auditView());
    uitest::saveScreenshot(view->auditView(), QStringLiteral("upgrade-audit"));

    // The new run answers the same send.
    const QString upgradePart = view->composer()->sendsTable()->item(1, 2)->text();
    QTRY_COMPARE_WITH_TIMEOUT(view->composer()->sendState(upgradePart), QStringLiteral("answered"), 20000);

    // The inspector jumps to the upgrade-required record.
    view->tabs()->setCurrentWidget(view->inspector());
    const qint64 seq = audit->index(0, 0).data(UpgradeAuditModel::UpgradeSeqRole).toLongLong();
    QVERIFY(view->inspector()->jumpToSeq(Channel::Out, seq));
    QTRY_VERIFY_WITH_TIMEOUT(view->inspector()->detailPane()->toPlainText().contains(QStringLiteral("upgrade-required")),
                             5000);
    uitest::saveScreenshot(view->inspector(), QStringLiteral("inspector-upgrade-record"));
    view->tabs()->setCurrentWidget(view->runsView());
    uitest::saveScreenshot(view, QStringLiteral("runs"));
    view->tabs()->setCurrentWidget(view->inspector());
    uitest::saveScreenshot(m_window, QStringLiteral("mainwindow-after"));
    QVERIFY(std::any_of(m_window->notifications().cbegin(), m_window->notifications().cend(),
                        [](const QString &n) { return n.contains(QStringLiteral("upgraded")); }));
}

void TestUpgradeFlow::stopMidStream()
{
    // The next version is the latest by now: new runs start on it and take v2.
    SessionView *view = createSession(QStringLiteral("e2e-stop"), QStringLiteral("v2"));
    QVERIFY(view);
    QTRY_VERIFY_WITH_TIMEOUT(view->clientDataPanel()->clientData().ok()
                                 && view->clientDataPanel()->clientData()->toObject().value(QStringLiteral("protocolVersion"))
                                        == QStringLiteral("v2"),
                             5000);
    QString words;
    for (int i = 0; i < 120; ++i)
        words += QStringLiteral("word%1 ").arg(i);
    const QString part = view->composer()->sendMessage(words);
    QVERIFY(!part.isEmpty());
    // Wait until the answer is streaming, then stop it.
    QTRY_VERIFY_WITH_TIMEOUT(rowsOfType(view->recordModel(), QStringLiteral("text-delta")) >= 3, 20000);
    QTest::mouseClick(view->composer()->stopButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(view->composer()->sendState(part), QStringLiteral("answered"), 20000);
    const int deltas = rowsOfType(view->recordModel(), QStringLiteral("text-delta"));
    QVERIFY2(deltas < 120, qPrintable(QString::number(deltas)));
    uitest::saveScreenshot(view, QStringLiteral("stopped"));
}

QTEST_MAIN(TestUpgradeFlow)
#include "tst_upgradeflow.moc"
