#include "uitesthelpers.h"

#include "models/streamrecordmodel.h"
#include "ui/backendconnection.h"
#include "ui/clientdatapanel.h"
#include "ui/sessionexporter.h"
#include "ui/sessionview.h"
#include "ui/streaminspector.h"

#include <QComboBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;

namespace {

// A backend that speaks just enough of the protocol to be connected to and
// then sends a broken `.out` stream: an event that is not JSON, a record
// whose body does not decode, then a good record.
class MalformedServer : public QTcpServer
{
public:
    MalformedServer()
    {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [s] { answer(s); });
            }
        });
    }

private:
    static void answer(QTcpSocket *s)
    {
        const QByteArray request = s->readAll();
        const QByteArray path = request.split(' ').value(1);
        if (path.contains("/realtime/")) {
            QByteArray body = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Stream-Version: v2\r\n"
                              "Cache-Control: no-cache\r\n\r\n";
            if (path.contains("/out")) {
                body += "event: batch\ndata: {this is not json\n\n";
                body += "event: batch\ndata: {\"records\":[{\"seq_num\":0,\"timestamp\":1712150400000,"
                        "\"body\":\"{not a chunk\",\"headers\":[]},{\"seq_num\":1,\"timestamp\":1712150400001,"
                        "\"body\":\"{\\\"data\\\":{\\\"type\\\":\\\"text-delta\\\",\\\"id\\\":\\\"t\\\","
                        "\\\"delta\\\":\\\"still here\\\"},\\\"id\\\":\\\"p1\\\"}\",\"headers\":[]}],"
                        "\"tail\":{\"seq_num\":2,\"timestamp\":1712150400001}}\n\n";
            }
            s->write(body);
            return;
        }
        QByteArray json;
        if (path.startsWith("/api/v1/sessions?"))
            json = "{\"data\":[],\"pagination\":{}}";
        else
            json = "{\"id\":\"session_bad\",\"externalId\":null,\"type\":\"chat.agent\",\"taskIdentifier\":\"t\","
                   "\"currentRunId\":null,\"tags\":[],\"metadata\":null,\"closedAt\":null,\"closedReason\":null,"
                   "\"expiresAt\":null,\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-01T00:00:00.000Z\"}";
        s->write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                 + QByteArray::number(json.size()) + "\r\n\r\n" + json);
    }
};

} // namespace

class TestSessionWidgets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void malformedStreamShowsErrorRowAndKeepsRunning();
    void clientDataValidatesAsYouType();
    void exportedFileOpensOffline();
};

void TestSessionWidgets::malformedStreamShowsErrorRowAndKeepsRunning()
{
    MalformedServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    BackendConnection backend;
    ConnectionProfile profile = ConnectionProfile::selfHosted(
        QStringLiteral("test"), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(server.serverPort())));
    profile.secretKey = QStringLiteral("tr_dev_test");
    backend.connectTo(profile);
    QTRY_COMPARE_WITH_TIMEOUT(backend.state(), BackendConnection::State::Connected, 5000);

    SessionView view(&backend, QStringLiteral("session_bad"));
    view.resize(1200, 800);
    view.show();
    StreamRecordModel *records = view.recordModel();
    QTRY_COMPARE_WITH_TIMEOUT(records->rowCount(), 2, 10000);
    QVERIFY(records->index(0, 0).data(StreamRecordModel::HasErrorRole).toBool());
    QVERIFY(!records->index(1, 0).data(StreamRecordModel::HasErrorRole).toBool());
    QCOMPARE(records->index(1, 0).data(StreamRecordModel::TypeRole).toString(), QStringLiteral("text-delta"));
    QTRY_VERIFY_WITH_TIMEOUT(!view.inspector()->errorText().isEmpty(), 5000);
    uitest::saveScreenshot(&view, QStringLiteral("malformed-stream"));
}

void TestSessionWidgets::clientDataValidatesAsYouType()
{
    ClientDataPanel panel;
    panel.resize(420, 520);
    panel.editor()->setPlainText(QStringLiteral("{\"userId\": \"dev\", "));
    QVERIFY(!panel.clientData().ok());
    QVERIFY(panel.validationText().contains(QStringLiteral("line 1")));
    QVERIFY(!panel.sendButton()->isEnabled());
    panel.editor()->setPlainText(QStringLiteral("{\"userId\": \"dev\", \"protocolVersion\": \"v1\"}"));
    QVERIFY(panel.clientData().ok());
    QCOMPARE(panel.protocolVersionField()->currentText(), QStringLiteral("v1"));
    panel.setLastSent(*panel.clientData());
    QVERIFY(panel.diffText().contains(QStringLiteral("Same")));
    panel.protocolVersionField()->setCurrentText(QStringLiteral("v3"));
    QCOMPARE(panel.clientData()->toObject().value(QStringLiteral("protocolVersion")).toString(), QStringLiteral("v3"));
    QVERIFY2(panel.diffText().contains(QStringLiteral("protocolVersion")), qPrintable(panel.diffText()));
    uitest::saveScreenshot(&panel, QStringLiteral("clientdata-panel"));
}

void TestSessionWidgets::exportedFileOpensOffline()
{
    QTemporaryDir dir;
    StreamRecord r;
    r.seqNum = 4;
    r.timestamp = 1712150400000;
    r.body = R"({"data":{"type":"text-delta","id":"t","delta":"hi"},"id":"p"})";
    StreamRecord control;
    control.seqNum = 5;
    control.kind = RecordKind::Control;
    control.headers = {{"trigger-control", "turn-complete"}, {"public-access-token", "secret.jwt.value"}};
    const QString path = dir.path() + QStringLiteral("/s.jsonl");
    auto written = SessionExporter::writeRecords(path, {{Channel::Out, r}, {Channel::Out, control}});
    written.waitForFinished();
    QVERIFY(written.result().ok());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(!file.readAll().contains("secret.jwt.value"));
    auto read = SessionExporter::readRecords(path);
    read.waitForFinished();
    QVERIFY(read.result().ok());
    QCOMPARE(read.result()->size(), 2);
    SessionView view(QStringLiteral("s.jsonl"), *read.result());
    QTRY_COMPARE_WITH_TIMEOUT(view.recordModel()->rowCount(), 2, 5000);
    QVERIFY(view.isOffline());
    QVERIFY(!SessionExporter::parseLine("{\"channel\":\"sideways\",\"seq_num\":1}", 3).ok());
    QVERIFY(!SessionExporter::parseLine("not json", 4).ok());
}

QTEST_MAIN(TestSessionWidgets)
#include "tst_sessionwidgets.moc"
