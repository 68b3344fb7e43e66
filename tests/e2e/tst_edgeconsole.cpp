// README's "Edge proxy" walk-through from the desktop app, through the
// widgets: a real SessionServer whose chat-agent requires an object under
// __edge, a real EdgeProxy in front of it owning __edge, and the console
// connected through File → Connections… with sessions and .in via the proxy
// and .out direct. A forged __edge typed in the clientData panel is replaced
// by the edge's value before the agent reads it; a profile whose .in bypasses
// the proxy gets an empty turn, and the per-turn table says why; a forged
// object sent around the proxy is accepted, and the table flags it.
#include "../ui/uitesthelpers.h"

#include "models/clientdataprovenancemodel.h"
#include "models/conversationmodel.h"
#include "models/sessionlistmodel.h"
#include "server/agent/agentruntime.h"
#include "server/edgeproxy.h"
#include "server/edgesignals.h"
#include "server/sessionserver.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"
#include "ui/backendconnection.h"
#include "ui/clientdatapanel.h"
#include "ui/composerpanel.h"
#include "ui/connectionsdialog.h"
#include "ui/mainwindow.h"
#include "ui/newsessiondialog.h"
#include "ui/sessionspanel.h"
#include "ui/sessionview.h"
#include "ui/streaminspector.h"
#include "ui/transcriptview.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSignalSpy>
#include <QTabBar>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>
#include <memory>

using namespace sessionscope;

namespace {

constexpr int kWaitMs = 15000;
const QString kExternalId = QStringLiteral("edge-demo");
const QString kNamespace = QStringLiteral("__edge");
// What the proxy writes under __edge, as README's `--signals static:{...}`.
const QJsonObject kEdgeValue{{QStringLiteral("edge"), QStringLiteral("walkthrough")}, {QStringLiteral("trusted"), true}};

QJsonObject parseObject(const QByteArray &text)
{
    return QJsonDocument::fromJson(text).object();
}

// Runs `drive` on the first modal dialog of type T that opens while `open`
// runs (open blocks in QDialog::exec()). A non-empty answer from `drive` is a
// failure: the dialog is rejected so exec() returns, and the answer is kept.
template <typename T>
QString driveModal(const std::function<void()> &open, const std::function<QString(T *)> &drive)
{
    QString failure = QStringLiteral("no %1 opened").arg(QString::fromLatin1(T::staticMetaObject.className()));
    QElapsedTimer waited;
    waited.start();
    QTimer poll;
    poll.setInterval(20);
    QObject::connect(&poll, &QTimer::timeout, [&] {
        auto *dialog = qobject_cast<T *>(QApplication::activeModalWidget());
        if (!dialog) {
            if (waited.elapsed() > kWaitMs)
                poll.stop();
            return;
        }
        poll.stop();
        failure = drive(dialog);
        if (!failure.isEmpty() && dialog->isVisible())
            dialog->reject();
    });
    poll.start();
    open();
    return failure;
}

// Replaces a text field's text the way a user does: select all, type.
template <typename Edit>
void typeInto(Edit *edit, const QString &text)
{
    edit->setFocus();
    edit->selectAll();
    QTest::keyClick(edit, Qt::Key_Backspace);
    QTest::keyClicks(edit, text);
}

QAction *menuAction(QMainWindow *window, const QString &text)
{
    for (QAction *a : window->menuBar()->findChildren<QAction *>()) {
        if (a->text() == text)
            return a;
    }
    return nullptr;
}

} // namespace

class TestEdgeConsole : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void connectThroughTheProxy();
    void forgedValueIsReplacedByTheEdge();
    void bypassGetsAnEmptyTurn();
    void bypassWithAForgedObject();

private:
    // File → Connections…: a Self-hosted profile on the backend with the
    // given per-endpoint URLs and the edge-owned key, saved and connected.
    QString connectProfile(const QString &name, const QUrl &sessionsVia, const QUrl &inVia);
    SessionView *waitForView(QSignalSpy &opened);
    // Types `clientData` in the panel and `message` in the composer, clicks
    // Send and waits for the turn-complete; answers the send's `.in` seq.
    qint64 sendFromTheComposer(SessionView *view, const QString &clientData, const QString &message);
    // The `.in` record the agent read (the server's own stream), as its chunk.
    QJsonObject agentInChunk(qint64 inSeq);
    QJsonObject agentRunMetadata();
    // The per-turn row of `inSeq` once its `.in` record has arrived; -1 after kWaitMs.
    static int settledRow(QAbstractItemModel *model, qint64 inSeq);
    // Scrolls the clientData panel and its per-turn table to `row`, for screenshots.
    static void showProvenance(SessionView *view, int row);

    QTemporaryDir m_dir;
    std::unique_ptr<SessionServer> m_server;
    std::unique_ptr<EdgeProxy> m_proxy;
    BackendConnection *m_backend = nullptr;
    MainWindow *m_window = nullptr;
    QPointer<SessionView> m_view;
};

void TestEdgeConsole::initTestCase()
{
    QVERIFY(m_dir.isValid());
    qRegisterMetaType<SessionView *>();
    // Profiles, settings and the console's journals stay in the test's folder.
    qputenv("XDG_CONFIG_HOME", m_dir.filePath(QStringLiteral("config")).toUtf8());
    qputenv("SESSIONSCOPE_DATA_DIR", m_dir.filePath(QStringLiteral("appdata")).toUtf8());
    QCoreApplication::setOrganizationName(QStringLiteral("sessionscope-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_edgeconsole"));
    QSettings().clear();

    QElapsedTimer startup;
    startup.start();
    ServerConfig config;
    config.dataDir = m_dir.filePath(QStringLiteral("server"));
    m_server = std::make_unique<SessionServer>(config);
    const auto started = m_server->start();
    QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));

    // README step 1: chat-agent requires an object under __edge and answers at once.
    QNetworkAccessManager nam;
    QNetworkRequest deploy(QUrl(m_server->baseUrl().toString() + QStringLiteral("/api/v1/deployments")));
    deploy.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    deploy.setRawHeader("Authorization", "Bearer " + m_server->secretKey().toUtf8());
    const QJsonObject version{
        {QStringLiteral("task"), QStringLiteral("chat-agent")},
        {QStringLiteral("version"),
         QJsonObject{{QStringLiteral("clientDataSchema"),
                      QJsonObject{{QStringLiteral("userId"), QStringLiteral("string")}, {kNamespace, QStringLiteral("object")}}},
                     {QStringLiteral("reply"),
                      QJsonObject{{QStringLiteral("mode"), QStringLiteral("echo")}, {QStringLiteral("chunksPerSecond"), 0}}}}}};
    std::unique_ptr<QNetworkReply> reply(nam.post(deploy, QJsonDocument(version).toJson(QJsonDocument::Compact)));
    QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), kWaitMs);
    QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);
    const QJsonObject deployed = parseObject(reply->readAll());
    QCOMPARE(deployed.value(QStringLiteral("deployment")).toObject().value(QStringLiteral("clientDataSchema")).toObject().value(kNamespace).toString(),
             QStringLiteral("object"));

    // README step 2: the proxy in front of it, owning __edge.
    auto edgeSignals = EdgeSignals::fromSpec(QStringLiteral("static:")
                                             + QString::fromUtf8(QJsonDocument(kEdgeValue).toJson(QJsonDocument::Compact)));
    QVERIFY2(edgeSignals.ok(), qPrintable(edgeSignals.ok() ? QString() : edgeSignals.error().message));
    EdgeProxyConfig proxyConfig;
    proxyConfig.upstream = m_server->baseUrl();
    proxyConfig.namespaceKey = kNamespace;
    proxyConfig.edgeSignals = *edgeSignals;
    m_proxy = std::make_unique<EdgeProxy>(proxyConfig);
    const auto proxyStarted = m_proxy->start();
    QVERIFY2(proxyStarted.ok(), qPrintable(proxyStarted.ok() ? QString() : proxyStarted.error().message));
    QVERIFY(m_proxy->port() != 0 && m_proxy->port() != m_server->baseUrl().port());

    m_backend = new BackendConnection;
    m_window = new MainWindow(m_backend);
    m_window->resize(1600, 1000);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window));
    qInfo("backend, agent version, edge proxy and window up in %lld ms", startup.elapsed());
}

void TestEdgeConsole::cleanupTestCase()
{
    delete m_window;
    delete m_backend;
    if (m_proxy)
        m_proxy->stop();
    m_proxy.reset();
    if (m_server)
        m_server->stop();
    m_server.reset();
    QSettings().clear();
}

QString TestEdgeConsole::connectProfile(const QString &name, const QUrl &sessionsVia, const QUrl &inVia)
{
    QAction *connections = menuAction(m_window, QStringLiteral("&Connections…"));
    if (!connections)
        return QStringLiteral("no File → Connections… action");
    const QString backendUrl = m_server->baseUrl().toString();
    const QString key = m_server->secretKey();
    return driveModal<ConnectionsDialog>([connections] { connections->trigger(); }, [&](ConnectionsDialog *dialog) {
        auto *nameEdit = dialog->findChild<QLineEdit *>(QStringLiteral("name"));
        auto *kind = dialog->findChild<QComboBox *>(QStringLiteral("kind"));
        auto *baseUrl = dialog->findChild<QLineEdit *>(QStringLiteral("baseUrl"));
        auto *sessionsUrl = dialog->findChild<QLineEdit *>(QStringLiteral("sessionsUrl"));
        auto *inUrl = dialog->findChild<QLineEdit *>(QStringLiteral("inUrl"));
        auto *outUrl = dialog->findChild<QLineEdit *>(QStringLiteral("outUrl"));
        auto *keyEdit = dialog->findChild<QLineEdit *>(QStringLiteral("secretKey"));
        auto *edgeKey = dialog->findChild<QLineEdit *>(QStringLiteral("edgeNamespace"));
        auto *status = dialog->findChild<QLabel *>(QStringLiteral("status"));
        auto *save = dialog->findChild<QPushButton *>(QStringLiteral("save"));
        auto *connectButton = dialog->findChild<QPushButton *>(QStringLiteral("connect"));
        auto *list = dialog->findChild<QListWidget *>(QStringLiteral("profiles"));
        if (!(nameEdit && kind && baseUrl && sessionsUrl && inUrl && outUrl && keyEdit && edgeKey && status && save
              && connectButton && list))
            return QStringLiteral("a Connections dialog field is missing");
        typeInto(nameEdit, name);
        kind->setCurrentIndex(kind->findData(int(BackendKind::SelfHosted)));
        typeInto(baseUrl, backendUrl);
        typeInto(sessionsUrl, sessionsVia.toString());
        typeInto(inUrl, inVia.toString());
        outUrl->clear(); // .out straight from the backend: the base URL
        typeInto(keyEdit, key);
        typeInto(edgeKey, kNamespace);
        QTest::mouseClick(save, Qt::LeftButton);
        // The key goes to the keychain, or to the 0600 file where none answers.
        if (!QTest::qWaitFor([status] { return status->text().startsWith(QStringLiteral("Saved;")); }, kWaitMs))
            return QStringLiteral("not saved: %1").arg(status->text());
        if (!list->currentItem() || list->currentItem()->text() != name)
            return QStringLiteral("the saved profile is not selected");
        uitest::saveScreenshot(dialog, QStringLiteral("edgeconsole-connections-%1").arg(name));
        QTest::mouseClick(connectButton, Qt::LeftButton);
        if (!QTest::qWaitFor([dialog] { return !dialog->isVisible(); }, kWaitMs))
            return QStringLiteral("Connect did not close the dialog: %1").arg(status->text());
        return QString();
    });
}

SessionView *TestEdgeConsole::waitForView(QSignalSpy &opened)
{
    if (opened.isEmpty() && !opened.wait(kWaitMs))
        return nullptr;
    return opened.first().first().value<SessionView *>();
}

qint64 TestEdgeConsole::sendFromTheComposer(SessionView *view, const QString &clientData, const QString &message)
{
    ClientDataPanel *panel = view->clientDataPanel();
    typeInto(panel->editor(), clientData);
    ComposerPanel *composer = view->composer();
    const int before = composer->sendsTable()->rowCount();
    typeInto(composer->messageEdit(), message);
    QTest::mouseClick(composer->sendButton(), Qt::LeftButton);
    if (composer->sendsTable()->rowCount() != before + 1)
        return -1;
    const QString part = composer->sendsTable()->item(before, 2)->text();
    if (!QTest::qWaitFor([&] { return composer->sendState(part) == QStringLiteral("answered"); }, kWaitMs)) {
        qWarning("send %s: %s, %s", qPrintable(part), qPrintable(composer->sendState(part)),
                 qPrintable(composer->answeredBy(part)));
        return -1;
    }
    return composer->sendsTable()->item(before, 3)->text().toLongLong();
}

QJsonObject TestEdgeConsole::agentInChunk(qint64 inSeq)
{
    auto session = m_server->sessions().session(kExternalId);
    if (!session)
        return {};
    auto records = m_server->streams().read(AgentRuntime::streamKey(*session), Channel::In, inSeq, 1);
    if (!records || records->isEmpty() || records->first().record.seqNum != inSeq)
        return {};
    // The `.in` record's body is {"data": "<the ChatInputChunk as JSON text>"}.
    const QJsonObject body = parseObject(records->first().record.body);
    return parseObject(body.value(QStringLiteral("data")).toString().toUtf8());
}

QJsonObject TestEdgeConsole::agentRunMetadata()
{
    auto session = m_server->sessions().session(kExternalId);
    if (!session)
        return {};
    auto run = m_server->sessions().run(session->currentRunId);
    if (!run || !run->metadata)
        return {};
    return parseObject(*run->metadata).value(QStringLiteral("agent")).toObject();
}

void TestEdgeConsole::showProvenance(SessionView *view, int row)
{
    ClientDataPanel *panel = view->clientDataPanel();
    if (auto *scroll = view->findChild<QScrollArea *>(QStringLiteral("clientDataScroll")))
        scroll->ensureWidgetVisible(panel->provenanceView());
    panel->provenanceView()->scrollTo(panel->provenanceView()->model()->index(row, 0));
}

int TestEdgeConsole::settledRow(QAbstractItemModel *model, qint64 inSeq)
{
    int found = -1;
    const bool settled = QTest::qWaitFor(
        [&] {
            for (int row = 0; model && row < model->rowCount(); ++row) {
                const QModelIndex index = model->index(row, 0);
                if (index.data(ClientDataProvenanceModel::InSeqRole).toLongLong() == inSeq
                    && index.data(ClientDataProvenanceModel::EdgeVerdictRole).toInt()
                           != int(ClientDataProvenanceModel::EdgeVerdict::Pending)) {
                    found = row;
                    return true;
                }
            }
            return false;
        },
        kWaitMs);
    return settled ? found : -1;
}

void TestEdgeConsole::connectThroughTheProxy()
{
    const QString failure = connectProfile(QStringLiteral("edge"), m_proxy->baseUrl(), m_proxy->baseUrl());
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->state(), BackendConnection::State::Connected, kWaitMs);
    const ConnectionProfile &profile = m_backend->profile();
    QCOMPARE(profile.name, QStringLiteral("edge"));
    QCOMPARE(profile.kind, BackendKind::SelfHosted);
    QCOMPARE(profile.edgeNamespace, kNamespace);
    QCOMPARE(profile.endpoint(EndpointFamily::Sessions), m_proxy->baseUrl());
    QCOMPARE(profile.endpoint(EndpointFamily::In), m_proxy->baseUrl());
    QCOMPARE(profile.endpoint(EndpointFamily::Out).port(), m_server->baseUrl().port());
    QVERIFY2(m_window->windowTitle().contains(QStringLiteral("edge")), qPrintable(m_window->windowTitle()));
}

void TestEdgeConsole::forgedValueIsReplacedByTheEdge()
{
    QCOMPARE(m_backend->state(), BackendConnection::State::Connected);
    QSignalSpy opened(m_window, &MainWindow::sessionOpened);

    // Session → New…, forging __edge in the create call too (README step 3).
    QAction *newSession = menuAction(m_window, QStringLiteral("&New…"));
    QVERIFY(newSession);
    const QString created = driveModal<NewSessionDialog>([newSession] { newSession->trigger(); }, [](NewSessionDialog *d) {
        typeInto(d->externalIdField(), kExternalId);
        typeInto(d->clientDataField(), QStringLiteral(R"({"userId":"ada","__edge":{"trusted":false,"botScore":99}})"));
        auto *buttons = d->findChild<QDialogButtonBox *>();
        if (!buttons)
            return QStringLiteral("no buttons");
        QTest::mouseClick(buttons->button(QDialogButtonBox::Ok), Qt::LeftButton);
        return d->isVisible() ? QStringLiteral("Create refused the form") : QString();
    });
    QVERIFY2(created.isEmpty(), qPrintable(created));
    SessionView *view = waitForView(opened);
    QVERIFY(view);
    m_view = view;

    // The backend stored the edge's value, not the forged one.
    auto session = m_server->sessions().session(kExternalId);
    QVERIFY(session.ok());
    QCOMPARE(parseObject(session->triggerConfig).value(QStringLiteral("basePayload")).toObject()
                 .value(QStringLiteral("metadata")).toObject().value(kNamespace).toObject(),
             kEdgeValue);

    // The panel takes the session's clientData first; type over it after that.
    ClientDataPanel *panel = view->clientDataPanel();
    QTRY_VERIFY_WITH_TIMEOUT(panel->editor()->toPlainText().contains(QStringLiteral("walkthrough")), kWaitMs);
    const QString forged = QStringLiteral(R"({"userId":"ada","__edge":{"trusted":false,"botScore":99}})");
    typeInto(panel->editor(), forged);
    QVERIFY2(panel->validationText().contains(QStringLiteral("owned by the edge proxy")), qPrintable(panel->validationText()));
    const QList<QLabel *> labels = panel->findChildren<QLabel *>();
    QVERIFY(std::any_of(labels.cbegin(), labels.cend(), [panel](const QLabel *label) {
        return label->text() == panel->validationText() && label->isVisible();
    }));
    QVERIFY(panel->provenanceView()->isVisible());

    // Send from the composer; the agent answers (its schema got an object).
    const QString message = QStringLiteral("Hello from behind the edge");
    const qint64 inSeq = sendFromTheComposer(view, forged, message);
    QVERIFY2(inSeq >= 0, "the send was not answered");
    const QString part = view->composer()->sendsTable()->item(0, 2)->text();
    QVERIFY2(!view->composer()->answeredBy(part).contains(QStringLiteral("NO content")),
             qPrintable(view->composer()->answeredBy(part)));
    view->inspector()->setRendered(true);
    QTRY_VERIFY_WITH_TIMEOUT(
        view->inspector()->transcriptView()->plainTranscript().contains(QStringLiteral("You said: ") + message), kWaitMs);
    // `.in` comes through the edge and `.out` directly, so the user's message
    // may arrive after the answer: the conversation still shows it above.
    ConversationModel *conversation = view->conversationModel();
    const auto rowOf = [conversation](const QString &role, const QString &text) {
        for (int r = 0; r < conversation->rowCount(); ++r) {
            const QModelIndex index = conversation->index(r, 0);
            if (index.data(ConversationModel::MessageRoleRole).toString() == role
                && index.data(ConversationModel::TextRole).toString().contains(text))
                return r;
        }
        return -1;
    };
    const QString answer = QStringLiteral("You said: ") + message;
    QTRY_VERIFY_WITH_TIMEOUT(rowOf(QStringLiteral("user"), message) >= 0 && rowOf(QStringLiteral("assistant"), answer) >= 0,
                             kWaitMs);
    QVERIFY2(rowOf(QStringLiteral("user"), message) < rowOf(QStringLiteral("assistant"), answer),
             qPrintable(view->inspector()->transcriptView()->plainTranscript()));

    // The per-turn table: the console sent __edge, the agent got the edge's.
    QAbstractItemModel *provenance = panel->provenanceView()->model();
    QVERIFY(provenance);
    const int row = settledRow(provenance, inSeq);
    QVERIFY2(row >= 0, "no verdict for the turn");
    QCOMPARE(provenance->index(row, 0).data(ClientDataProvenanceModel::EdgeVerdictRole).toInt(),
             int(ClientDataProvenanceModel::EdgeVerdict::ForgedReplaced));
    QVERIFY(!provenance->index(row, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
    using Col = ClientDataProvenanceModel::Column;
    const QString sentCell = provenance->index(row, Col::SentColumn).data().toString();
    const QString receivedCell = provenance->index(row, Col::ReceivedColumn).data().toString();
    const QString edgeCell = provenance->index(row, Col::EdgeColumn).data().toString();
    QVERIFY2(sentCell.contains(QStringLiteral("__edge (edge-owned)")), qPrintable(sentCell));
    QVERIFY2(receivedCell.contains(QStringLiteral("__edge (edge-owned)")), qPrintable(receivedCell));
    QVERIFY2(edgeCell.contains(QStringLiteral("replaced by the edge")), qPrintable(edgeCell));
    const QString tooltip = provenance->index(row, Col::EdgeColumn).data(Qt::ToolTipRole).toString();
    const QString receivedJson = tooltip.mid(tooltip.indexOf(QStringLiteral("received:")));
    QVERIFY2(receivedJson.contains(QStringLiteral("walkthrough")) && !receivedJson.contains(QStringLiteral("botScore")),
             qPrintable(tooltip));

    // The agent's side: the `.in` record it read carries the edge's value,
    // and it recorded no schema failure.
    const QJsonObject chunk = agentInChunk(inSeq);
    const QJsonObject metadata = chunk.value(QStringLiteral("payload")).toObject().value(QStringLiteral("metadata")).toObject();
    QCOMPARE(metadata.value(kNamespace).toObject(), kEdgeValue);
    QCOMPARE(metadata.value(QStringLiteral("userId")).toString(), QStringLiteral("ada"));
    const QJsonObject agent = agentRunMetadata();
    QVERIFY2(!agent.contains(QStringLiteral("lastError")), qPrintable(agent.value(QStringLiteral("lastError")).toString()));

    // With a session open the window still fits a 1080-line screen (the
    // clientData panel scrolls).
    QVERIFY2(m_window->minimumSizeHint().height() <= 1000, qPrintable(QString::number(m_window->minimumSizeHint().height())));
    showProvenance(view, row);
    const QString shot = uitest::saveScreenshot(m_window, QStringLiteral("edgeconsole-forged"));
    uitest::saveScreenshot(panel, QStringLiteral("edgeconsole-forged-panel"));
    qInfo("screenshot: %s", qPrintable(shot));
}

void TestEdgeConsole::bypassGetsAnEmptyTurn()
{
    QVERIFY(m_view);
    // A profile whose .in goes straight to the backend: a client that does not
    // know about the edge.
    const QString failure = connectProfile(QStringLiteral("edge-bypass"), m_proxy->baseUrl(), m_server->baseUrl());
    QVERIFY2(failure.isEmpty(), qPrintable(failure));
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->state(), BackendConnection::State::Connected, kWaitMs);
    QCOMPARE(m_backend->profile().name, QStringLiteral("edge-bypass"));
    QCOMPARE(m_backend->profile().endpoint(EndpointFamily::In).port(), m_server->baseUrl().port());

    // A tab keeps the connection it was opened on: close it, open the session
    // again from the sessions list.
    QTabWidget *tabs = m_window->sessionTabs();
    const int index = tabs->indexOf(m_view);
    QVERIFY(index >= 0);
    QWidget *close = tabs->tabBar()->tabButton(index, QTabBar::RightSide);
    QVERIFY(close);
    QTest::mouseClick(close, Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(m_view.isNull(), kWaitMs);

    QTableView *list = m_window->sessionsPanel()->table();
    QModelIndex entry;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (int row = 0; row < list->model()->rowCount(); ++row) {
                const QModelIndex i = list->model()->index(row, 0);
                if (i.data(SessionListModel::ExternalIdRole).toString() == kExternalId) {
                    entry = i;
                    return true;
                }
            }
            return false;
        }(),
        kWaitMs);
    QSignalSpy opened(m_window, &MainWindow::sessionOpened);
    list->scrollTo(entry);
    const QPoint at = list->visualRect(entry).center();
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, at);
    QTest::mouseDClick(list->viewport(), Qt::LeftButton, {}, at);
    SessionView *view = waitForView(opened);
    QVERIFY(view);
    m_view = view;

    // The first turn, read back from `.in`: the edge wrote __edge.
    ClientDataPanel *panel = view->clientDataPanel();
    QAbstractItemModel *provenance = panel->provenanceView()->model();
    QTRY_VERIFY_WITH_TIMEOUT(panel->editor()->toPlainText().contains(QStringLiteral("walkthrough")), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(provenance->rowCount() >= 1
                                 && provenance->index(0, 0).data(ClientDataProvenanceModel::EdgeVerdictRole).toInt()
                                        == int(ClientDataProvenanceModel::EdgeVerdict::EdgeWrote),
                             kWaitMs);

    // README step 5: clientData without __edge, straight to the backend.
    const QString plain = QStringLiteral(R"({"userId":"ada"})");
    typeInto(panel->editor(), plain);
    QVERIFY2(!panel->validationText().contains(QStringLiteral("edge proxy")), qPrintable(panel->validationText()));
    const QString message = QStringLiteral("Hello, straight to the backend");
    const qint64 inSeq = sendFromTheComposer(view, plain, message);
    QVERIFY2(inSeq > 0, "the send was not answered");

    // An empty turn, flagged in the sends table and in the notifications.
    ComposerPanel *composer = view->composer();
    const QString part = composer->sendsTable()->item(composer->sendsTable()->rowCount() - 1, 2)->text();
    QVERIFY2(composer->answeredBy(part).contains(QStringLiteral("NO content")), qPrintable(composer->answeredBy(part)));
    QVERIFY(std::any_of(m_window->notifications().cbegin(), m_window->notifications().cend(),
                        [](const QString &n) { return n.contains(QStringLiteral("came with no content")); }));

    // The per-turn table: __edge missing, the request bypassed the edge.
    const int row = settledRow(provenance, inSeq);
    QVERIFY2(row >= 0, "no verdict for the turn");
    QCOMPARE(provenance->index(row, 0).data(ClientDataProvenanceModel::EdgeVerdictRole).toInt(),
             int(ClientDataProvenanceModel::EdgeVerdict::Missing));
    QVERIFY(provenance->index(row, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
    using Col = ClientDataProvenanceModel::Column;
    const QString edgeCell = provenance->index(row, Col::EdgeColumn).data().toString();
    QVERIFY2(edgeCell.contains(QStringLiteral("bypassed")), qPrintable(edgeCell));
    QVERIFY(!provenance->index(row, Col::ReceivedColumn).data().toString().contains(kNamespace));

    // The agent's side: no __edge in the record it read, and the run says why
    // the turn was empty.
    const QJsonObject metadata = agentInChunk(inSeq).value(QStringLiteral("payload")).toObject()
                                     .value(QStringLiteral("metadata")).toObject();
    QCOMPARE(metadata, (QJsonObject{{QStringLiteral("userId"), QStringLiteral("ada")}}));
    const QJsonObject agent = agentRunMetadata();
    const QString lastError = agent.value(QStringLiteral("lastError")).toString();
    QVERIFY2(lastError.contains(QStringLiteral("__edge must be object (got missing)")), qPrintable(lastError));
    const QJsonArray errors = agent.value(QStringLiteral("errors")).toArray();
    QVERIFY(std::any_of(errors.begin(), errors.end(), [inSeq](const QJsonValue &e) {
        return e.toObject().value(QStringLiteral("inSeq")).toInteger(-1) == inSeq;
    }));
    // The rendered conversation has the message and no answer to it.
    view->inspector()->setRendered(true);
    TranscriptView *transcript = view->inspector()->transcriptView();
    QTRY_VERIFY_WITH_TIMEOUT(transcript->plainTranscript().contains(message), kWaitMs);
    QVERIFY(transcript->plainTranscript().contains(QStringLiteral("You said: Hello from behind the edge")));
    QVERIFY(!transcript->plainTranscript().contains(QStringLiteral("You said: ") + message));

    showProvenance(view, row);
    uitest::saveScreenshot(m_window, QStringLiteral("edgeconsole-bypass"));
    uitest::saveScreenshot(panel, QStringLiteral("edgeconsole-bypass-panel"));
}

void TestEdgeConsole::bypassWithAForgedObject()
{
    QVERIFY(m_view);
    SessionView *view = m_view;
    ClientDataPanel *panel = view->clientDataPanel();
    QAbstractItemModel *provenance = panel->provenanceView()->model();
    // The schema checks shape, not origin: a forged object sent straight to
    // the backend is accepted, and only the per-turn table can tell.
    const QString forged = QStringLiteral(R"({"userId":"ada","__edge":{"trusted":false,"botScore":99}})");
    const QString message = QStringLiteral("Forged, straight to the backend");
    const qint64 inSeq = sendFromTheComposer(view, forged, message);
    QVERIFY2(inSeq > 1, "the send was not answered");
    QVERIFY(panel->validationText().contains(QStringLiteral("owned by the edge proxy")));
    QTRY_VERIFY_WITH_TIMEOUT(
        view->inspector()->transcriptView()->plainTranscript().contains(QStringLiteral("You said: ") + message), kWaitMs);

    const int row = settledRow(provenance, inSeq);
    QVERIFY2(row >= 0, "no verdict for the turn");
    QCOMPARE(provenance->index(row, 0).data(ClientDataProvenanceModel::EdgeVerdictRole).toInt(),
             int(ClientDataProvenanceModel::EdgeVerdict::PassedThrough));
    QVERIFY(provenance->index(row, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
    const QString edgeCell = provenance->index(row, ClientDataProvenanceModel::EdgeColumn).data().toString();
    QVERIFY2(edgeCell.contains(QStringLiteral("no edge rewrote it")), qPrintable(edgeCell));

    // The agent read the forged value.
    const QJsonObject metadata = agentInChunk(inSeq).value(QStringLiteral("payload")).toObject()
                                     .value(QStringLiteral("metadata")).toObject();
    QCOMPARE(metadata.value(kNamespace).toObject().value(QStringLiteral("botScore")).toInt(), 99);

    showProvenance(view, row);
    uitest::saveScreenshot(panel, QStringLiteral("edgeconsole-bypass-forged-panel"));
}

QTEST_MAIN(TestEdgeConsole)
#include "tst_edgeconsole.moc"
