#include "models/runhistorymodel.h"
#include "net/observedhistory.h"
#include "net/sessionsclient.h"

#include "serversupport.h"
#include "testserverprocess.h"

#include <QAbstractItemModelTester>
#include <QFont>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace {

const QDateTime T0 = QDateTime::fromString(QStringLiteral("2026-11-21T10:00:00.000Z"), Qt::ISODateWithMs);

RunHistoryEntry entry(const QString &audit, const QString &run, const QString &reason, int minute,
                      const QString &version = {})
{
    RunHistoryEntry e;
    e.auditId = audit;
    e.runId = run;
    e.reason = reason;
    e.source = QStringLiteral("runs");
    e.triggeredAt = T0.addSecs(minute * 60);
    e.version = version;
    return e;
}

} // namespace

class TestRunHistoryModel : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

private Q_SLOTS:
    void mergesRefreshesInPlace()
    {
        RunHistoryModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

        // Given oldest first; shown newest first.
        model.setEntries({entry("a1", "run_1", "initial", 0, "1.0"), entry("a2", "run_2", "manual", 5, "1.0")});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0, RunHistoryModel::RunIdColumn).data().toString(), QStringLiteral("run_2"));
        QCOMPARE(model.index(1, RunHistoryModel::ReasonColumn).data().toString(), QStringLiteral("initial"));

        // A refresh with one new run on top: one insertion at row 0, nothing else.
        inserted.clear();
        model.setEntries({entry("a3", "run_3", "upgrade", 9, "2.0"), entry("a2", "run_2", "manual", 5, "1.0"),
                          entry("a1", "run_1", "initial", 0, "1.0")});
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted[0][1].toInt(), 0);
        QCOMPARE(inserted[0][2].toInt(), 0);
        QCOMPARE(changed.size(), 0);
        QCOMPARE(reset.size(), 0);

        // A changed status updates its row only.
        RunHistoryEntry finished = entry("a2", "run_2", "manual", 5, "1.0");
        finished.status = QStringLiteral("COMPLETED");
        model.setEntries({entry("a3", "run_3", "upgrade", 9, "2.0"), finished, entry("a1", "run_1", "initial", 0, "1.0")});
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed[0][0].toModelIndex().row(), 1);
        QCOMPARE(changed[0][1].toModelIndex().row(), 1);
        QCOMPARE(model.index(1, RunHistoryModel::StatusColumn).data().toString(), QStringLiteral("COMPLETED"));

        // Rows that vanish or reorder: a reset.
        model.setEntries({entry("a1", "run_1", "initial", 0, "1.0")});
        QCOMPARE(reset.size(), 1);
        QCOMPARE(model.rowCount(), 1);
    }

    void runDetailsAndDurations()
    {
        RunHistoryModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.setEntries({entry("a1", "run_1", "initial", 0), entry("a2", "run_2", "upgrade", 1)});
        QSignalSpy entriesChanged(&model, &RunHistoryModel::entriesChanged);

        RunDetails details;
        details.id = QStringLiteral("run_1");
        details.version = QStringLiteral("20261121.3");
        details.status = QStringLiteral("COMPLETED");
        details.startedAt = T0.addMSecs(200);
        details.finishedAt = T0.addMSecs(200 + 61'500);
        model.updateRun(details);
        QCOMPARE(entriesChanged.size(), 1);
        const int row = model.rowForRun(QStringLiteral("run_1"));
        QCOMPARE(row, 1);
        QCOMPARE(model.index(row, RunHistoryModel::VersionColumn).data().toString(), QStringLiteral("20261121.3"));
        QCOMPARE(model.index(row, 0).data(RunHistoryModel::DurationMsRole).toLongLong(), 61'500);
        QCOMPARE(model.index(row, RunHistoryModel::DurationColumn).data().toString(), QStringLiteral("1 min 1 s"));
        QCOMPARE(model.index(row, RunHistoryModel::StartedColumn).data(RunHistoryModel::SortRole).toDateTime(),
                 T0.addMSecs(200));
        QVERIFY(!model.index(0, 0).data(RunHistoryModel::DurationMsRole).isValid()); // not started yet
        model.updateRun(details); // nothing new
        QCOMPARE(entriesChanged.size(), 1);

        // A run still going counts up.
        RunDetails live;
        live.id = QStringLiteral("run_2");
        live.status = QStringLiteral("EXECUTING");
        live.startedAt = QDateTime::currentDateTimeUtc().addSecs(-5);
        model.updateRun(live);
        QVERIFY(model.index(0, 0).data(RunHistoryModel::DurationMsRole).toLongLong() >= 5000);

        QCOMPARE(RunHistoryModel::formatDuration(850), QStringLiteral("850 ms"));
        QCOMPARE(RunHistoryModel::formatDuration(1250), QStringLiteral("1.3 s"));
        QCOMPARE(RunHistoryModel::formatDuration(7'300'000), QStringLiteral("2 h 1 min"));

        // The current run stands out.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setCurrentRunId(QStringLiteral("run_2"));
        QCOMPARE(changed.size(), 1);
        QVERIFY(model.index(0, 0).data(RunHistoryModel::IsCurrentRole).toBool());
        QVERIFY(model.index(0, 0).data(Qt::FontRole).value<QFont>().bold());
        QVERIFY(!model.index(1, 0).data(Qt::FontRole).isValid());

        // Sortable through a proxy by the raw values.
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(RunHistoryModel::SortRole);
        proxy.sort(RunHistoryModel::TriggeredColumn, Qt::AscendingOrder);
        QCOMPARE(proxy.index(0, RunHistoryModel::RunIdColumn).data().toString(), QStringLiteral("run_1"));
    }

    void observedRuns()
    {
        QTemporaryDir dir;
        ObservedHistory history(dir.filePath(QStringLiteral("observed.jsonl")));
        QVERIFY(history.open().ok());
        history.observeTakeover(QStringLiteral("session_x"), QStringLiteral("run_a"), QStringLiteral("initial"));
        history.observeTakeover(QStringLiteral("session_x"), QStringLiteral("run_b"), QStringLiteral("upgrade"));
        RunDetails b;
        b.id = QStringLiteral("run_b");
        b.version = QStringLiteral("2.0");
        b.status = QStringLiteral("EXECUTING");
        history.observeRun(b);

        RunHistoryModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.setObservedRuns(history.runs(QStringLiteral("session_x")));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0, RunHistoryModel::RunIdColumn).data().toString(), QStringLiteral("run_b"));
        QCOMPARE(model.index(0, RunHistoryModel::VersionColumn).data().toString(), QStringLiteral("2.0"));
        QCOMPARE(model.index(0, RunHistoryModel::ReasonColumn).data().toString(), QStringLiteral("upgrade"));
        QVERIFY(!model.index(0, 0).data(RunHistoryModel::SourceRole).toString().isEmpty());
        QVERIFY(model.index(0, 0).data(RunHistoryModel::AuditIdRole).toString().isEmpty());
    }

    void fromTheRunsExtension()
    {
        QVERIFY2(m_server.start({QStringLiteral("--run-version"), QStringLiteral("20261121.1")}),
                 qPrintable(m_server.errorString()));
        SessionsClient client(m_server.profile());
        const QString chat = uniqueChatId(QStringLiteral("runs"));
        auto created = createTestSession(client, chat);
        QVERIFY2(created.ok(), describe(created).constData());

        RunHistoryModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy failed(&model, &RunHistoryModel::loadFailed);
        model.load(&client, chat);
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 1, 10000);
        QVERIFY(!model.isObserved());
        QCOMPARE(model.index(0, RunHistoryModel::RunIdColumn).data().toString(), created->runId);
        QCOMPARE(model.index(0, RunHistoryModel::ReasonColumn).data().toString(), QStringLiteral("initial"));
        QCOMPARE(model.index(0, RunHistoryModel::VersionColumn).data().toString(), QStringLiteral("20261121.1"));
        QVERIFY(!model.index(0, RunHistoryModel::StatusColumn).data().toString().isEmpty());

        // A new version is deployed; a takeover by this client refreshes the model by itself.
        QVERIFY2(m_server.start({QStringLiteral("--run-version"), QStringLiteral("20261121.2")}),
                 qPrintable(m_server.errorString()));
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        auto upgraded = awaitResult<EndAndContinueResult>([&](auto done) {
            client.endAndContinue(created->session.id, created->runId, QStringLiteral("upgrade"), nullptr, done);
        });
        QVERIFY2(upgraded.ok() && upgraded->swapped, describe(upgraded).constData());
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 2, 10000);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted[0][1].toInt(), 0);
        QCOMPARE(model.index(0, RunHistoryModel::RunIdColumn).data().toString(), upgraded->runId);
        QCOMPARE(model.index(0, RunHistoryModel::ReasonColumn).data().toString(), QStringLiteral("upgrade"));
        QCOMPARE(model.index(0, RunHistoryModel::VersionColumn).data().toString(), QStringLiteral("20261121.2"));
        QCOMPARE(model.index(1, RunHistoryModel::VersionColumn).data().toString(), QStringLiteral("20261121.1"));
        QVERIFY(failed.isEmpty());

        // An unknown session is an error, not an empty history.
        RunHistoryModel missing;
        QSignalSpy missingFailed(&missing, &RunHistoryModel::loadFailed);
        missing.load(&client, QStringLiteral("session_doesnotexist"));
        QVERIFY(missingFailed.wait(10000));
        QCOMPARE(missing.rowCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestRunHistoryModel)
#include "tst_runhistorymodel.moc"
