#include "net/observedhistory.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"
#include "net/tokenmanager.h"

#include "awaitresult.h"
#include "testsessions.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;

class TestObservedHistory : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;
    QTemporaryDir m_dir;
    QString m_session;
    QString m_initialRun;
    QString m_manualRun;
    QString m_upgradeRun;
    QString m_continuationRun;
    qint64 m_upgradeSeq = -1;

    QString journal() const { return m_dir.filePath(QStringLiteral("history.jsonl")); }

    static void checkHistory(const ObservedHistory &history, const TestObservedHistory &t)
    {
        const QList<ObservedRun> runs = history.runs(t.m_session);
        QCOMPARE(runs.size(), 4);
        QCOMPARE(runs[0].runId, t.m_initialRun);
        QCOMPARE(runs[0].reason, QStringLiteral("initial"));
        QCOMPARE(runs[0].source, QStringLiteral("create"));
        QCOMPARE(runs[1].runId, t.m_manualRun);
        QCOMPARE(runs[1].reason, QStringLiteral("manual"));
        QCOMPARE(runs[2].runId, t.m_upgradeRun);
        QCOMPARE(runs[2].reason, QStringLiteral("upgrade"));
        QCOMPARE(runs[3].runId, t.m_continuationRun);
        QCOMPARE(runs[3].reason, QStringLiteral("continuation"));
        for (const ObservedRun &r : runs) {
            QVERIFY(r.firstSeenAt.isValid());
            QVERIFY2(!r.version.isEmpty(), qPrintable(r.runId));
        }
        const QList<ObservedUpgrade> upgrades = history.upgrades(t.m_session);
        QCOMPARE(upgrades.size(), 1);
        QCOMPARE(upgrades[0].seq, t.m_upgradeSeq);
        QCOMPARE(upgrades[0].fromRunId, t.m_manualRun);
        QCOMPARE(upgrades[0].toRunId, t.m_upgradeRun);
        QVERIFY(!upgrades[0].fromVersion.isEmpty());
        QVERIFY(!upgrades[0].toVersion.isEmpty());
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void buildsHistoryFromWhatTheClientSees()
    {
        ObservedHistory history(journal());
        QVERIFY(history.open().ok());
        SessionsClient client(m_server.profile());
        history.attach(&client);
        // The "agent": another client whose calls this console does not see.
        SessionsClient agent(m_server.profile());

        const CreateSessionRequest request = chatSessionRequest(uniqueName("hist"));
        auto created = awaitResult<CreatedSession>([&](auto done) { client.createSession(request, nullptr, done); });
        QVERIFY2(created.ok(), describe(created).constData());
        m_session = created->session.id;
        m_initialRun = created->runId;

        // Our own takeover, reason known.
        auto manual = awaitResult<EndAndContinueResult>([&](auto done) {
            client.endAndContinue(m_session, m_initialRun, QStringLiteral("manual"), nullptr, done);
        });
        QVERIFY(manual.ok() && manual->swapped);
        m_manualRun = manual->runId;

        // The agent upgrades: swaps the run, then appends upgrade-required.
        SessionOutSubscription out(m_server.profile(), request.externalId);
        SessionOutSubscription::Options o;
        o.peekSettled = false;
        out.setOptions(o);
        connect(&out, &SessionOutSubscription::recordsReceived, &history,
                [&](const QList<StreamRecord> &records) { history.observeRecords(request.externalId, records); });
        out.start();
        auto upgraded = awaitResult<EndAndContinueResult>([&](auto done) {
            agent.endAndContinue(m_session, m_manualRun, QStringLiteral("upgrade"), nullptr, done);
        });
        QVERIFY(upgraded.ok() && upgraded->swapped);
        m_upgradeRun = upgraded->runId;
        TestStreamWriter writer(m_server.profile());
        const auto record = writer.appendControl(m_session, "upgrade-required");
        QVERIFY(record.ok());
        m_upgradeSeq = *record;
        // The history asks the client for the session and sees the new run.
        QTRY_COMPARE_WITH_TIMEOUT(history.runs(m_session).size(), 3, 5000);

        // A run that ends is replaced without any record: a continuation.
        auto continued = awaitResult<EndAndContinueResult>([&](auto done) {
            agent.endAndContinue(m_session, m_upgradeRun, QStringLiteral("continuation"), nullptr, done);
        });
        QVERIFY(continued.ok() && continued->swapped);
        m_continuationRun = continued->runId;
        QVERIFY(awaitResult<SessionItem>([&](auto done) { client.retrieveSession(m_session, nullptr, done); }).ok());

        for (const QString &run : {m_initialRun, m_manualRun, m_upgradeRun, m_continuationRun})
            QVERIFY(awaitResult<RunDetails>([&](auto done) { client.retrieveRun(run, nullptr, done); }).ok());

        checkHistory(history, *this);
        // Stored under the friendly id, found by the external id too.
        QCOMPARE(history.runs(request.externalId).size(), 4);
        QCOMPARE(history.sessions(), QStringList{m_session});
    }

    void survivesRestart()
    {
        QVERIFY(!m_session.isEmpty());
        ObservedHistory history(journal());
        QVERIFY(history.open().ok());
        QCOMPARE(history.skippedLines(), 0);
        checkHistory(history, *this);
    }

    void tornLastLineIsSkippedAndReported()
    {
        QVERIFY(!m_session.isEmpty());
        {
            QFile file(journal());
            QVERIFY(file.open(QIODevice::Append));
            file.write("{\"v\":1,\"t\":\"run\",\"s\":\"session_torn\",\"ru");
        }
        ObservedHistory history(journal());
        QSignalSpy errors(&history, &ObservedHistory::journalError);
        QVERIFY(history.open().ok());
        QCOMPARE(history.skippedLines(), 1);
        QCOMPARE(errors.size(), 1);
        checkHistory(history, *this);

        // New facts start on a line of their own and read back.
        JwtClaims claims;
        claims.scopes = QStringList{QStringLiteral("read:runs:run_fromtoken")};
        history.observeToken(QStringLiteral("session_other"), claims);
        history.flush();
        ObservedHistory again(journal());
        QVERIFY(again.open().ok());
        QCOMPARE(again.skippedLines(), 1);
        const auto runs = again.runs(QStringLiteral("session_other"));
        QCOMPARE(runs.size(), 1);
        QCOMPARE(runs.first().runId, QStringLiteral("run_fromtoken"));
        QCOMPARE(runs.first().source, QStringLiteral("token"));
        QCOMPARE(runs.first().reason, QStringLiteral("observed"));
    }

    void upgradeSeenAfterTheNewRun()
    {
        // The swap happens before the record: a retrieve in between shows
        // the new run first; the record then names it as the upgrade.
        ObservedHistory history(m_dir.filePath(QStringLiteral("race.jsonl")));
        QVERIFY(history.open().ok());
        SessionItem s;
        s.id = QStringLiteral("session_race");
        s.currentRunId = QStringLiteral("run_1");
        history.observeSession(s, QStringLiteral("create"));
        s.currentRunId = QStringLiteral("run_2");
        history.observeSession(s);
        QCOMPARE(history.runs(s.id).last().reason, QStringLiteral("continuation"));
        StreamRecord upgrade;
        upgrade.seqNum = 17;
        upgrade.kind = RecordKind::Control;
        upgrade.headers = {{"trigger-control", "upgrade-required"}};
        history.observeRecords(s.id, {upgrade});
        history.observeRecords(s.id, {upgrade}); // seen again after a reconnect: once
        QCOMPARE(history.runs(s.id).last().reason, QStringLiteral("upgrade"));
        QCOMPARE(history.upgrades(s.id).size(), 1);
        QCOMPARE(history.upgrades(s.id).first().fromRunId, QStringLiteral("run_1"));
        QCOMPARE(history.upgrades(s.id).first().toRunId, QStringLiteral("run_2"));
        QCOMPARE(history.upgrades(s.id).first().seq, 17);
    }

    void unwritableJournalIsAnError()
    {
        ObservedHistory history(QStringLiteral("/proc/sessionscope-cannot-write/history.jsonl"));
        const auto r = history.open();
        QVERIFY(!r.ok());
        QVERIFY(r.error().message.contains(QLatin1String("history.jsonl")) ||
                r.error().message.contains(QLatin1String("sessionscope-cannot-write")));
    }
};

QTEST_GUILESS_MAIN(TestObservedHistory)
#include "tst_observedhistory.moc"
