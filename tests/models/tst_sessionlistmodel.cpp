#include "models/sessionlistmodel.h"
#include "net/sessionsclient.h"

#include "serversupport.h"
#include "testserverprocess.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace {

const QDateTime T0 = QDateTime::fromString(QStringLiteral("2026-11-21T10:00:00.000Z"), Qt::ISODateWithMs);

SessionItem item(const QString &id, int minute, const QStringList &tags = {}, const QString &run = {})
{
    SessionItem s;
    s.id = id;
    s.externalId = QStringLiteral("chat-") + id.mid(8);
    s.type = QStringLiteral("chat.agent");
    s.taskIdentifier = QStringLiteral("chat-agent");
    s.currentRunId = run;
    s.tags = tags;
    s.createdAt = T0.addSecs(minute * 60);
    s.updatedAt = s.createdAt;
    return s;
}

SessionListPage page(const QList<SessionItem> &sessions, const QString &next = {})
{
    SessionListPage p;
    p.sessions = sessions;
    p.nextCursor = next;
    return p;
}

} // namespace

class TestSessionListModel : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

private Q_SLOTS:
    void pagesFedDirectly()
    {
        SessionListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

        model.appendPage(page({item("session_a", 3, {"vip"}, "run_a"), item("session_b", 2)}, "cursor1"));
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.nextCursor(), QStringLiteral("cursor1"));
        QVERIFY(!model.canFetchMore(QModelIndex())); // no client to fetch with

        // The next page overlaps: the known session is updated, not repeated.
        SessionItem closed = item("session_b", 2);
        closed.closedAt = T0.addSecs(600);
        closed.closedReason = QStringLiteral("done");
        model.appendPage(page({closed, item("session_c", 1, {"vip", "eu"})}));
        QCOMPARE(inserted.size(), 2);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(1, SessionListModel::StatusColumn).data().toString(), QStringLiteral("CLOSED"));
        QCOMPARE(model.index(1, 0).data(Qt::ToolTipRole).toString().endsWith(QStringLiteral(": done")), true);
        QCOMPARE(model.index(2, SessionListModel::TagsColumn).data().toString(), QStringLiteral("vip, eu"));
        QCOMPARE(model.index(0, SessionListModel::ExternalIdColumn).data().toString(), QStringLiteral("chat-a"));
        QCOMPARE(model.rowForSession(QStringLiteral("chat-c")), 2);
        QCOMPARE(model.rowForSession(QStringLiteral("session_c")), 2);
        QCOMPARE(model.rowForSession(QStringLiteral("session_zz")), -1);

        // The version of a current run arrives later, in place.
        changed.clear();
        model.setRunVersion(QStringLiteral("run_a"), QStringLiteral("20261121.3"));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.index(0, SessionListModel::VersionColumn).data().toString(), QStringLiteral("20261121.3"));

        // Client-side search and sort through a plain proxy.
        QSortFilterProxyModel proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::Fatal);
        proxy.setSourceModel(&model);
        proxy.setFilterRole(SessionListModel::SearchTextRole);
        proxy.setSortRole(SessionListModel::SortRole);
        proxy.setFilterFixedString(QStringLiteral("vip"));
        QCOMPARE(proxy.rowCount(), 2);
        proxy.setFilterFixedString(QStringLiteral("20261121.3"));
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setFilterFixedString({});
        proxy.sort(SessionListModel::CreatedColumn, Qt::AscendingOrder);
        QCOMPARE(proxy.index(0, SessionListModel::IdColumn).data().toString(), QStringLiteral("session_c"));
        QCOMPARE(proxy.index(2, SessionListModel::IdColumn).data().toString(), QStringLiteral("session_a"));

        model.resetWithPage(page({item("session_d", 0)}));
        QCOMPARE(reset.size(), 1);
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(proxy.rowCount(), 1);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

    void pagesFromARealServer()
    {
        QVERIFY2(m_server.start({QStringLiteral("--run-version"), QStringLiteral("20261121.7")}),
                 qPrintable(m_server.errorString()));
        SessionsClient client(m_server.profile());
        const QString tag = uniqueChatId(QStringLiteral("m"));
        QStringList ids;
        for (int i = 0; i < 23; ++i) {
            auto created = createTestSession(client, QStringLiteral("%1-%2").arg(tag).arg(i), {}, {tag});
            QVERIFY2(created.ok(), describe(created).constData());
            ids.append(created->session.id);
        }

        SessionListModel model;
        model.setClient(&client);
        QSignalSpy failed(&model, &SessionListModel::loadFailed);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

        SessionListFilter tooBig;
        tooBig.pageSize = 1000;
        QVERIFY(!model.setFilter(tooBig).ok());

        SessionListFilter filter;
        filter.pageSize = 10;
        filter.tags = {tag};
        QVERIFY(model.setFilter(filter).ok());
        QVERIFY(model.isLoading());
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 10, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(!model.isLoading(), 10000);
        QVERIFY(model.canFetchMore(QModelIndex()));
        model.fetchMore(QModelIndex());
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 20, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(model.canFetchMore(QModelIndex()), 10000);
        model.fetchMore(QModelIndex());
        QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 23, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(!model.isLoading(), 10000);
        QVERIFY(!model.canFetchMore(QModelIndex()));
        QCOMPARE(inserted.size(), 2); // the first page is a reset, each further page one insertion
        QStringList listed;
        for (int row = 0; row < model.rowCount(); ++row)
            listed.append(model.index(row, SessionListModel::IdColumn).data().toString());
        QCOMPARE(QSet<QString>(listed.begin(), listed.end()), QSet<QString>(ids.begin(), ids.end()));

        // Under the tester, which (like a view reaching the bottom) fetches
        // while canFetchMore() says so: a reset, then page after page.
        {
            SessionListModel tested;
            QAbstractItemModelTester tester(&tested, QAbstractItemModelTester::FailureReportingMode::Fatal);
            QSignalSpy testedInserted(&tested, &QAbstractItemModel::rowsInserted);
            tested.setClient(&client);
            QVERIFY(tested.setFilter(filter).ok());
            QTRY_COMPARE_WITH_TIMEOUT(tested.rowCount(), 23, 10000);
            QTRY_VERIFY_WITH_TIMEOUT(!tested.isLoading(), 10000);
            QCOMPARE(testedInserted.size(), 2);
            tested.refresh();
            QTRY_COMPARE_WITH_TIMEOUT(testedInserted.size(), 4, 10000);
            QTRY_VERIFY_WITH_TIMEOUT(!tested.isLoading(), 10000);
            QCOMPARE(tested.rowCount(), 23);
        }

        // Each current run's version is looked up.
        QTRY_COMPARE_WITH_TIMEOUT(model.index(22, SessionListModel::VersionColumn).data().toString(),
                                  QStringLiteral("20261121.7"), 10000);
        QCOMPARE(model.index(0, SessionListModel::VersionColumn).data().toString(), QStringLiteral("20261121.7"));

        // A session closed elsewhere in the console shows up closed here.
        const int row = model.rowForSession(ids[5]);
        auto closed = awaitResult<SessionItem>([&](auto done) { client.closeSession(ids[5], QStringLiteral("tests"), nullptr, done); });
        QVERIFY2(closed.ok(), describe(closed).constData());
        QTRY_COMPARE_WITH_TIMEOUT(model.index(row, SessionListModel::StatusColumn).data().toString(),
                                  QStringLiteral("CLOSED"), 10000);

        // The server filters by status.
        filter.statuses = {QStringLiteral("CLOSED")};
        QVERIFY(model.setFilter(filter).ok());
        QTRY_VERIFY_WITH_TIMEOUT(!model.isLoading(), 10000);
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.index(0, SessionListModel::IdColumn).data().toString(), ids[5]);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][0].value<Error>().message));

        // A server that went away is an error signal, and the rows stay.
        m_server.kill();
        model.refresh();
        QVERIFY(failed.wait(30000));
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(!model.isLoading());
    }
};

QTEST_GUILESS_MAIN(TestSessionListModel)
#include "tst_sessionlistmodel.moc"
