#include "models/clientdatadiff.h"
#include "models/runhistorymodel.h"
#include "models/streamingest.h"
#include "models/upgradeauditjoin.h"
#include "models/upgradeauditmodel.h"
#include "models/upgradeevidence.h"
#include "net/observedhistory.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include "modeltestsupport.h"
#include "serversupport.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QUuid>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace {

const QDateTime T0 = QDateTime::fromString(QStringLiteral("2026-11-21T10:00:00.000Z"), Qt::ISODateWithMs);
const qint64 T0ms = T0.toMSecsSinceEpoch();

QJsonObject object(const char *json)
{
    return QJsonDocument::fromJson(json).object();
}

RunHistoryEntry run(const QString &id, const QString &reason, qint64 atMs, const QString &version)
{
    RunHistoryEntry e;
    e.auditId = QStringLiteral("audit_") + id;
    e.runId = id;
    e.reason = reason;
    e.triggeredAt = QDateTime::fromMSecsSinceEpoch(atMs, Qt::UTC);
    e.version = version;
    return e;
}

ClientSend send(qint64 inSeq, qint64 atMs, const char *clientData)
{
    return {inSeq, QDateTime::fromMSecsSinceEpoch(atMs, Qt::UTC), object(clientData)};
}

// .out records: an answer, then an upgrade at `upgradeSeq`, the new run's
// first chunk and its turn-complete naming `inSeq`.
QList<StreamRecord> upgradeRecords(qint64 upgradeSeq, qint64 atMs, qint64 inSeq)
{
    return {
        controlRecord(upgradeSeq, controlheader::UpgradeRequired, {}, atMs - upgradeSeq),
        dataRecord(upgradeSeq + 1, {{"type", "start"}, {"messageId", "m2"}}, {}, atMs + 400 - (upgradeSeq + 1)),
        dataRecord(upgradeSeq + 2, {{"type", "finish"}, {"finishReason", "stop"}}, {}, atMs + 500 - (upgradeSeq + 2)),
        controlRecord(upgradeSeq + 3, controlheader::TurnComplete,
                      {{controlheader::SessionInEventId, QByteArray::number(inSeq)}}, atMs + 600 - (upgradeSeq + 3)),
    };
}

} // namespace

class TestUpgradeAudit : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

private Q_SLOTS:
    void clientDataDiff()
    {
        const ClientDataDiff diff = ClientDataDiff::between(
            object("{\"appVersion\":\"1.0\",\"userId\":\"u1\",\"flags\":{\"beta\":false,\"x\":1},\"legacy\":true,\"list\":[1]}"),
            object("{\"appVersion\":\"1.1\",\"userId\":\"u1\",\"flags\":{\"beta\":true,\"x\":1},\"list\":[1,2],\"region\":\"eu\"}"));
        QCOMPARE(diff.paths(), (QStringList{"appVersion", "flags.beta", "legacy", "list", "region"}));
        QCOMPARE(diff.changed().size(), 3);
        QCOMPARE(diff.added().size(), 1);
        QCOMPARE(diff.added()[0].path, QStringLiteral("region"));
        QCOMPARE(diff.removed().size(), 1);
        QCOMPARE(diff.removed()[0].before, QJsonValue(true));
        QCOMPARE(diff.summary(), QStringLiteral("appVersion: \"1.0\" \u2192 \"1.1\"; flags.beta: false \u2192 true; "
                                                "list: [1] \u2192 [1,2]; +region: \"eu\"; \u2212legacy"));

        QVERIFY(ClientDataDiff::between(object("{\"a\":1}"), object("{\"a\":1}")).isEmpty());
        // No clientData before: everything is added.
        const ClientDataDiff first = ClientDataDiff::between(QJsonValue(), object("{\"protocolVersion\":\"v2\"}"));
        QCOMPARE(first.summary(), QStringLiteral("+protocolVersion: \"v2\""));
        // Not objects: compared whole.
        const ClientDataDiff scalar = ClientDataDiff::between(QJsonValue(3), QJsonValue(QStringLiteral("x")));
        QCOMPARE(scalar.changed().size(), 1);
        QCOMPARE(scalar.summary(), QStringLiteral("(clientData): 3 \u2192 \"x\""));
        QCOMPARE(ClientDataDiff::valueText(QJsonValue(0.1)), QStringLiteral("0.1"));
    }

    void evidenceFromRecordsAndBatches()
    {
        const QList<StreamRecord> records = upgradeRecords(10, T0ms, 4);
        UpgradeEvidence fromRecords;
        fromRecords.observe(records, 5000);
        fromRecords.observe(records, 9000); // a replay after a resume changes nothing
        QCOMPARE(fromRecords.markers().size(), 1);
        const UpgradeMarker m = fromRecords.markers()[0];
        QCOMPARE(m.seq, 10);
        QCOMPARE(m.timestamp, T0ms);
        QCOMPARE(m.receivedAtMs, 5000);
        QCOMPARE(m.firstChunkSeq, 11);
        QCOMPARE(m.firstChunkTimestamp, T0ms + 400);
        QCOMPARE(m.consumedInSeq, std::optional<qint64>(4));

        // The same from a decoded batch, where `.in` records are skipped.
        RecordBatchDecoder decoder;
        decoder.addRecord(Channel::In, inRecord(4, {{"kind", "stop"}}));
        decoder.addRecords(Channel::Out, records);
        UpgradeEvidence fromBatch;
        fromBatch.observe(decoder.takeBatch(), 5000);
        QCOMPARE(fromBatch.markers(), fromRecords.markers());
    }

    void joinRules()
    {
        // initial at T0, upgrade at +60 s (marker seen), upgrade at +120 s
        // requested inside a turn (no marker), continuation at +180 s.
        UpgradeAuditJoin join;
        join.setRuns({run("run_c", "continuation", T0ms + 180'000, "3.0"), run("run_b2", "upgrade", T0ms + 120'000, "3.0"),
                      run("run_b", "upgrade", T0ms + 60'000, "2.0"), run("run_a", "initial", T0ms, "1.0")});
        UpgradeEvidence evidence;
        evidence.observe(upgradeRecords(10, T0ms + 60'100, 3), T0ms + 60'150);
        join.setMarkers(evidence.markers());
        join.setSends({send(-1, T0ms - 1000, "{\"appVersion\":\"1\"}"), send(2, T0ms + 10'000, "{\"appVersion\":\"1\"}"),
                       send(3, T0ms + 59'900, "{\"appVersion\":\"2\"}"),
                       send(4, T0ms + 119'000, "{\"appVersion\":\"3\",\"beta\":true}")});
        const QList<UpgradeAuditRow> rows = join.rows();
        QCOMPARE(rows.size(), 2);

        const UpgradeAuditRow &inTurn = rows[0]; // newest first
        QCOMPARE(inTurn.toRunId, QStringLiteral("run_b2"));
        QCOMPARE(inTurn.fromRunId, QStringLiteral("run_b"));
        QCOMPARE(inTurn.upgradeSeq, -1);
        QVERIFY(!inTurn.latencyMs);
        QVERIFY(inTurn.triggerKnown);
        QCOMPARE(inTurn.triggerInSeq, 4); // the last send before the takeover
        QCOMPARE(inTurn.clientDataChange.paths(), (QStringList{"appVersion", "beta"}));

        const UpgradeAuditRow &seen = rows[1];
        QCOMPARE(seen.key, QStringLiteral("audit_run_b"));
        QCOMPARE(seen.fromRunId, QStringLiteral("run_a"));
        QCOMPARE(seen.fromVersion, QStringLiteral("1.0"));
        QCOMPARE(seen.toRunId, QStringLiteral("run_b"));
        QCOMPARE(seen.toVersion, QStringLiteral("2.0"));
        QCOMPARE(seen.upgradeSeq, 10);
        QCOMPARE(seen.firstChunkSeq, 11);
        QCOMPARE(seen.triggerInSeq, 3); // named by the new run's turn-complete
        QCOMPARE(seen.clientDataChange.summary(), QStringLiteral("appVersion: \"1\" \u2192 \"2\""));
        // Send at +59.9 s, first chunk received at +60.15 s (this client's clock).
        QCOMPARE(seen.latencyMs, std::optional<qint64>(250));

        // Without arrival times the server's timestamps are used: chunk at +60.5 s.
        UpgradeEvidence stamped;
        stamped.observe(upgradeRecords(10, T0ms + 60'100, 3), 0);
        join.setMarkers(stamped.markers());
        QCOMPARE(join.rows()[1].latencyMs, std::optional<qint64>(600));

        // A marker far from any takeover is not claimed.
        UpgradeEvidence stray;
        stray.observe(upgradeRecords(10, T0ms + 600'000, 3), 0);
        join.setMarkers(stray.markers());
        QCOMPARE(join.rows()[1].upgradeSeq, -1);

        // ObservedHistory's tie of a record to its run wins over timing.
        ObservedUpgrade observed;
        observed.seq = 10;
        observed.toRunId = QStringLiteral("run_b2");
        join.setObservedUpgrades({observed});
        QCOMPARE(join.rows()[0].upgradeSeq, 10);
        QCOMPARE(join.rows()[1].upgradeSeq, -1);
    }

    void modelFollowsItsInputs()
    {
        RunHistoryModel history;
        UpgradeAuditModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.followRunHistory(&history);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

        history.setEntries({run("run_a", "initial", T0ms, "1.0"), run("run_b", "upgrade", T0ms + 60'000, "2.0")});
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(model.index(0, UpgradeAuditModel::FromColumn).data().toString(), QStringLiteral("run_a (1.0)"));
        QCOMPARE(model.index(0, UpgradeAuditModel::ToColumn).data().toString(), QStringLiteral("run_b (2.0)"));
        QCOMPARE(model.index(0, UpgradeAuditModel::UpgradeSeqColumn).data().toString(), QStringLiteral("\u2014"));
        QCOMPARE(model.index(0, UpgradeAuditModel::ClientDataChangeColumn).data().toString(),
                 QStringLiteral("(no send matched)"));

        // Evidence and sends fill the row in place.
        model.addSend(send(-1, T0ms - 1000, "{\"appVersion\":\"1\"}"));
        model.addSend(send(3, T0ms + 59'900, "{\"appVersion\":\"2\"}"));
        RecordBatchDecoder decoder;
        decoder.addRecords(Channel::Out, upgradeRecords(10, T0ms + 60'100, 3));
        model.observe(decoder.takeBatch(), T0ms + 60'150);
        QCOMPARE(inserted.size(), 1);
        QVERIFY(!changed.isEmpty());
        const QModelIndex row = model.index(0, 0);
        QCOMPARE(row.data(UpgradeAuditModel::UpgradeSeqRole).toLongLong(), 10);
        QCOMPARE(row.data(UpgradeAuditModel::TriggerInSeqRole).toLongLong(), 3);
        QCOMPARE(row.data(UpgradeAuditModel::LatencyMsRole).toLongLong(), 250);
        QCOMPARE(row.data(UpgradeAuditModel::ChangedPathsRole).toStringList(), QStringList{"appVersion"});
        QCOMPARE(model.index(0, UpgradeAuditModel::LatencyColumn).data().toString(), QStringLiteral("250 ms"));
        QCOMPARE(model.index(0, UpgradeAuditModel::ClientDataChangeColumn).data().toString(),
                 QStringLiteral("appVersion: \"1\" \u2192 \"2\""));

        // A later upgrade lands on top, the older row untouched.
        inserted.clear();
        history.setEntries({run("run_a", "initial", T0ms, "1.0"), run("run_b", "upgrade", T0ms + 60'000, "2.0"),
                            run("run_c", "upgrade", T0ms + 90'000, "3.0")});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted[0][1].toInt(), 0);
        QCOMPARE(model.index(0, UpgradeAuditModel::FromColumn).data().toString(), QStringLiteral("run_b (2.0)"));
        QCOMPARE(model.index(1, 0).data(UpgradeAuditModel::UpgradeSeqRole).toLongLong(), 10);
    }

    // The whole loop on a real server: version 1 is running, version 2 is
    // deployed, the client sends appVersion 2, the "agent" upgrades (swap,
    // upgrade-required, new run answers) and the audit explains it.
    void auditOfARealUpgrade()
    {
        QVERIFY2(m_server.start({QStringLiteral("--run-version"), QStringLiteral("20261121.1")}),
                 qPrintable(m_server.errorString()));
        SessionsClient client(m_server.profile());
        TestStreamWriter writer(m_server.profile());
        const QString chat = uniqueChatId(QStringLiteral("audit"));
        const QJsonObject v1{{QStringLiteral("appVersion"), QStringLiteral("1")}};
        const QJsonObject v2{{QStringLiteral("appVersion"), QStringLiteral("2")}};

        auto created = createTestSession(client, chat, v1);
        QVERIFY2(created.ok(), describe(created).constData());
        const QString session = created->session.id;

        UpgradeAuditModel audit;
        QAbstractItemModelTester tester(&audit, QAbstractItemModelTester::FailureReportingMode::Fatal);
        audit.addSend({-1, created->session.createdAt, v1});
        const auto sendMessage = [&](const QString &text, const QJsonObject &clientData) -> qint64 {
            const QJsonObject chunk{
                {QStringLiteral("kind"), QStringLiteral("message")},
                {QStringLiteral("payload"),
                 QJsonObject{{QStringLiteral("chatId"), chat},
                             {QStringLiteral("trigger"), QStringLiteral("submit-message")},
                             {QStringLiteral("metadata"), clientData},
                             {QStringLiteral("message"),
                              QJsonObject{{QStringLiteral("id"), QUuid::createUuid().toString(QUuid::Id128)},
                                          {QStringLiteral("role"), QStringLiteral("user")},
                                          {QStringLiteral("parts"),
                                           QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                                  {QStringLiteral("text"), text}}}}}}}},
            };
            const QDateTime sentAt = QDateTime::currentDateTimeUtc();
            const auto seq = writer.append(session, QJsonDocument(chunk).toJson(QJsonDocument::Compact), {}, Channel::In);
            if (!seq)
                return -1;
            audit.addSend({*seq, sentAt, clientData});
            return *seq;
        };
        const auto answer = [&](qint64 inSeq) {
            QVERIFY(writer.append(session, "{\"data\":{\"type\":\"start\",\"messageId\":\"m\"},\"id\":\"s" + QByteArray::number(inSeq) + '"').ok());
            QVERIFY(writer.append(session, "{\"data\":{\"type\":\"finish\",\"finishReason\":\"stop\"},\"id\":\"f" + QByteArray::number(inSeq) + '"').ok());
            QVERIFY(writer.appendControl(session, controlheader::TurnComplete,
                                         {{controlheader::SessionInEventId, QByteArray::number(inSeq)}}).ok());
        };

        const qint64 firstSend = sendMessage(QStringLiteral("hello"), v1);
        QVERIFY(firstSend >= 0);
        answer(firstSend);

        // Version 2 is deployed: new runs start on it.
        QVERIFY2(m_server.start({QStringLiteral("--run-version"), QStringLiteral("20261121.2")}),
                 qPrintable(m_server.errorString()));

        // The console follows .out through the ingest worker and the run history through /runs.
        StreamIngest ingest;
        connect(&ingest, &StreamIngest::recordBatchReady, &audit, [&audit](const RecordBatch &batch) {
            audit.observe(batch, QDateTime::currentMSecsSinceEpoch());
        });
        SessionOutSubscription out(m_server.profile(), chat);
        SessionOutSubscription::Options options;
        options.peekSettled = false;
        out.setOptions(options);
        connect(&out, &SessionOutSubscription::recordsReceived, &ingest,
                [&ingest](const QList<StreamRecord> &records) { ingest.feedRecords(Channel::Out, records); });
        out.start();
        RunHistoryModel history;
        audit.followRunHistory(&history);
        history.load(&client, chat);
        QTRY_COMPARE_WITH_TIMEOUT(history.rowCount(), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(out.lastSeq(), 2, 10000);

        // The client moves to appVersion 2; the agent on version 1 hands over.
        const qint64 trigger = sendMessage(QStringLiteral("hello again"), v2);
        QVERIFY(trigger > firstSend);
        SessionsClient agent(m_server.profile());
        auto swapped = awaitResult<EndAndContinueResult>([&](auto done) {
            agent.endAndContinue(session, created->runId, QStringLiteral("upgrade"), nullptr, done);
        });
        QVERIFY2(swapped.ok() && swapped->swapped, describe(swapped).constData());
        const auto upgradeSeq = writer.appendControl(session, controlheader::UpgradeRequired);
        QVERIFY(upgradeSeq.ok());
        answer(trigger); // the new run reads the same .in record and answers it
        QTRY_COMPARE_WITH_TIMEOUT(out.lastSeq(), *upgradeSeq + 3, 10000);
        history.refresh();

        QTRY_COMPARE_WITH_TIMEOUT(audit.rowCount(), 1, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(audit.index(0, 0).data(UpgradeAuditModel::LatencyMsRole).isValid(), 10000);
        const QModelIndex row = audit.index(0, 0);
        QCOMPARE(row.data(UpgradeAuditModel::FromRunIdRole).toString(), created->runId);
        QCOMPARE(row.data(UpgradeAuditModel::FromVersionRole).toString(), QStringLiteral("20261121.1"));
        QCOMPARE(row.data(UpgradeAuditModel::ToRunIdRole).toString(), swapped->runId);
        QCOMPARE(row.data(UpgradeAuditModel::ToVersionRole).toString(), QStringLiteral("20261121.2"));
        QCOMPARE(row.data(UpgradeAuditModel::ReasonRole).toString(), QStringLiteral("upgrade"));
        QCOMPARE(row.data(UpgradeAuditModel::UpgradeSeqRole).toLongLong(), *upgradeSeq);
        QCOMPARE(row.data(UpgradeAuditModel::FirstChunkSeqRole).toLongLong(), *upgradeSeq + 1);
        QCOMPARE(row.data(UpgradeAuditModel::TriggerInSeqRole).toLongLong(), trigger);
        QCOMPARE(row.data(UpgradeAuditModel::ClientDataChangeRole).toString(),
                 QStringLiteral("appVersion: \"1\" \u2192 \"2\""));
        const qint64 latency = row.data(UpgradeAuditModel::LatencyMsRole).toLongLong();
        QVERIFY2(latency >= 0 && latency < 30000, qPrintable(QString::number(latency)));
        qInfo("send to first chunk of the new run: %lld ms", latency);
    }
};

QTEST_GUILESS_MAIN(TestUpgradeAudit)
#include "tst_upgradeaudit.moc"
