#include "net/sessionsclient.h"

#include "awaitresult.h"
#include "testsessions.h"
#include "cuttingproxy.h"
#include "testserverprocess.h"

#include <QJsonArray>
#include <QLoggingCategory>
#include <QMutex>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;

namespace {

QStringList g_log;
QMutex g_logMutex;

void captureMessages(QtMsgType, const QMessageLogContext &, const QString &message)
{
    QMutexLocker lock(&g_logMutex);
    g_log.append(message);
}

CreateSessionRequest chatRequest(const QString &externalId, const QStringList &tags = {})
{
    CreateSessionRequest r = chatSessionRequest(externalId);
    r.basePayload.insert(QStringLiteral("metadata"), QJsonObject{{QStringLiteral("userId"), QStringLiteral("u1")}});
    r.tags = tags;
    return r;
}

} // namespace

class TestSessionsClient : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

    Result<CreatedSession> create(SessionsClient &client, const CreateSessionRequest &request)
    {
        return awaitResult<CreatedSession>([&](auto done) { client.createSession(request, nullptr, done); });
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void createRetrieveUpdateClose()
    {
        SessionsClient client(m_server.profile());
        QSignalSpy seen(&client, &SessionsClient::sessionSeen);
        const QString ext = uniqueName("chat");
        CreateSessionRequest request = chatRequest(ext, {QStringLiteral("a"), QStringLiteral("b")});
        request.metadata = QJsonObject{{QStringLiteral("owner"), QStringLiteral("tests")}};

        auto created = create(client, request);
        QVERIFY2(created.ok(), describe(created).constData());
        QVERIFY(created->session.id.startsWith(QLatin1String("session_")));
        QCOMPARE(created->session.externalId, ext);
        QCOMPARE(created->session.type, QStringLiteral("chat.agent"));
        QCOMPARE(created->session.tags, (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
        QVERIFY(!created->runId.isEmpty());
        QCOMPARE(created->session.currentRunId, created->runId);
        QVERIFY(!created->publicAccessToken.isEmpty());
        QVERIFY(!created->isCached);
        QVERIFY(created->session.createdAt.isValid());
        QCOMPARE(created->session.status(), QStringLiteral("ACTIVE"));

        auto again = create(client, request);
        QVERIFY2(again.ok(), describe(again).constData());
        QVERIFY(again->isCached);
        QCOMPARE(again->session.id, created->session.id);
        QCOMPARE(again->runId, created->runId);

        const QString id = created->session.id;
        for (const QString &key : {id, ext}) {
            auto got = awaitResult<SessionItem>([&](auto done) { client.retrieveSession(key, nullptr, done); });
            QVERIFY2(got.ok(), describe(got).constData());
            QCOMPARE(got->id, id);
            QCOMPARE(got->metadata.toObject().value(QStringLiteral("owner")).toString(), QStringLiteral("tests"));
        }

        SessionUpdate update;
        update.tags = QStringList{QStringLiteral("c")};
        update.metadata = QJsonObject{{QStringLiteral("step"), 2}};
        auto updated = awaitResult<SessionItem>([&](auto done) { client.updateSession(id, update, nullptr, done); });
        QVERIFY2(updated.ok(), describe(updated).constData());
        QCOMPARE(updated->tags, QStringList{QStringLiteral("c")});
        QCOMPARE(updated->metadata.toObject().value(QStringLiteral("step")).toInt(), 2);

        SessionUpdate clear;
        clear.metadata = QJsonValue(QJsonValue::Null);
        updated = awaitResult<SessionItem>([&](auto done) { client.updateSession(id, clear, nullptr, done); });
        QVERIFY2(updated.ok(), describe(updated).constData());
        QVERIFY(updated->metadata.isNull());

        SessionUpdate rename;
        rename.externalId = uniqueName("other");
        auto refused = awaitResult<SessionItem>([&](auto done) { client.updateSession(id, rename, nullptr, done); });
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().httpStatus, 422);
        QVERIFY(!refused.error().message.isEmpty());
        QVERIFY(!refused.error().retrySafe);

        auto closed = awaitResult<SessionItem>(
            [&](auto done) { client.closeSession(id, QStringLiteral("done testing"), nullptr, done); });
        QVERIFY2(closed.ok(), describe(closed).constData());
        QVERIFY(closed->isClosed());
        QCOMPARE(closed->closedReason, QStringLiteral("done testing"));
        QCOMPARE(closed->status(), QStringLiteral("CLOSED"));
        auto closedAgain = awaitResult<SessionItem>(
            [&](auto done) { client.closeSession(id, QStringLiteral("second"), nullptr, done); });
        QVERIFY2(closedAgain.ok(), describe(closedAgain).constData());
        QCOMPARE(closedAgain->closedAt, closed->closedAt);
        QCOMPARE(closedAgain->closedReason, QStringLiteral("done testing"));

        auto conflict = create(client, request);
        QVERIFY(!conflict.ok());
        QCOMPARE(conflict.error().httpStatus, 409);
        QVERIFY(!conflict.error().message.isEmpty());
        QVERIFY(seen.size() >= 6);
    }

    void listPagesAndFilters()
    {
        SessionsClient client(m_server.profile());
        const QString tag = uniqueName("page");
        QSet<QString> ids;
        for (int i = 0; i < 7; ++i) {
            auto c = create(client, chatRequest(uniqueName("list"), {tag}));
            QVERIFY2(c.ok(), describe(c).constData());
            ids.insert(c->session.id);
        }
        auto closed = awaitResult<SessionItem>(
            [&](auto done) { client.closeSession(*ids.cbegin(), {}, nullptr, done); });
        QVERIFY(closed.ok());

        SessionListFilter filter;
        filter.pageSize = 3;
        filter.tags = QStringList{tag};
        QSet<QString> listed;
        QList<int> sizes;
        QString previous;
        for (int page = 0; page < 5; ++page) {
            auto r = awaitResult<SessionListPage>([&](auto done) { client.listSessions(filter, nullptr, done); });
            QVERIFY2(r.ok(), describe(r).constData());
            sizes.append(int(r->sessions.size()));
            for (const SessionItem &s : r->sessions) {
                QVERIFY2(!listed.contains(s.id), "a session came twice across pages");
                listed.insert(s.id);
                QVERIFY(s.tags.contains(tag));
            }
            if (page == 1)
                previous = r->previousCursor;
            if (r->nextCursor.isEmpty())
                break;
            filter.after = r->nextCursor;
        }
        QCOMPARE(sizes, (QList<int>{3, 3, 1}));
        QCOMPARE(listed, ids);

        // Paging back from the second page gives the first page again.
        QVERIFY(!previous.isEmpty());
        SessionListFilter back;
        back.pageSize = 3;
        back.tags = QStringList{tag};
        back.before = previous;
        auto first = awaitResult<SessionListPage>([&](auto done) { client.listSessions(back, nullptr, done); });
        QVERIFY2(first.ok(), describe(first).constData());
        QCOMPARE(first->sessions.size(), 3);

        SessionListFilter closedOnly;
        closedOnly.tags = QStringList{tag};
        closedOnly.statuses = QStringList{QStringLiteral("closed")};
        auto c = awaitResult<SessionListPage>([&](auto done) { client.listSessions(closedOnly, nullptr, done); });
        QVERIFY2(c.ok(), describe(c).constData());
        QCOMPARE(c->sessions.size(), 1);
        QCOMPARE(c->sessions.first().id, *ids.cbegin());

        SessionListFilter byTask;
        byTask.tags = QStringList{tag};
        byTask.taskIdentifiers = QStringList{QStringLiteral("no-such-task")};
        auto none = awaitResult<SessionListPage>([&](auto done) { client.listSessions(byTask, nullptr, done); });
        QVERIFY2(none.ok(), describe(none).constData());
        QVERIFY(none->sessions.isEmpty());

        // Refused before anything is sent, still answered asynchronously.
        SessionListFilter bad;
        bad.pageSize = 101;
        bool answered = false;
        client.listSessions(bad, nullptr, [&](Result<SessionListPage> r) {
            answered = true;
            QVERIFY(!r.ok());
            QVERIFY(r.error().message.contains(QLatin1String("between 1 and 100")));
        });
        QVERIFY(!answered);
        QTRY_VERIFY(answered);
    }

    void endAndContinueAndRuns()
    {
        SessionsClient client(m_server.profile());
        QSignalSpy detected(&client, &SessionsClient::runsExtensionDetected);
        QSignalSpy takeovers(&client, &SessionsClient::runTakenOver);
        auto created = create(client, chatRequest(uniqueName("eac")));
        QVERIFY2(created.ok(), describe(created).constData());
        const QString id = created->session.id;

        auto swapped = awaitResult<EndAndContinueResult>([&](auto done) {
            client.endAndContinue(id, created->runId, QStringLiteral("manual"), nullptr, done);
        });
        QVERIFY2(swapped.ok(), describe(swapped).constData());
        QVERIFY(swapped->swapped);
        QVERIFY(!swapped->runId.isEmpty());
        QVERIFY(swapped->runId != created->runId);
        QCOMPARE(takeovers.size(), 1);

        auto after = awaitResult<SessionItem>([&](auto done) { client.retrieveSession(id, nullptr, done); });
        QVERIFY(after.ok());
        QCOMPARE(after->currentRunId, swapped->runId);

        auto run = awaitResult<RunDetails>([&](auto done) { client.retrieveRun(swapped->runId, nullptr, done); });
        QVERIFY2(run.ok(), describe(run).constData());
        QCOMPARE(run->id, swapped->runId);
        QCOMPARE(run->taskIdentifier, QStringLiteral("ai-chat"));
        QVERIFY(!run->version.isEmpty());
        QVERIFY(!run->status.isEmpty());

        auto missingRun = awaitResult<RunDetails>(
            [&](auto done) { client.retrieveRun(QStringLiteral("run_doesnotexist"), nullptr, done); });
        QVERIFY(!missingRun.ok());
        QCOMPARE(missingRun.error().httpStatus, 404);

        QCOMPARE(client.runsExtension(), SessionsClient::RunsExtension::Unknown);
        auto rows = awaitResult<QList<SessionRunEntry>>([&](auto done) { client.listSessionRuns(id, nullptr, done); });
        QVERIFY2(rows.ok(), describe(rows).constData());
        QCOMPARE(client.runsExtension(), SessionsClient::RunsExtension::Available);
        QCOMPARE(detected.size(), 1);
        QCOMPARE(detected.first().first().toBool(), true);
        QCOMPARE(rows->size(), 2);
        QCOMPARE(rows->at(0).runId, created->runId);
        QCOMPARE(rows->at(0).reason, QStringLiteral("initial"));
        QCOMPARE(rows->at(1).runId, swapped->runId);
        QCOMPARE(rows->at(1).reason, QStringLiteral("manual"));
        QVERIFY(rows->at(1).run.has_value());

        // A missing session is a 404 about the session, not about the route.
        auto missing = awaitResult<QList<SessionRunEntry>>(
            [&](auto done) { client.listSessionRuns(QStringLiteral("session_nope"), nullptr, done); });
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().httpStatus, 404);
        QCOMPARE(client.runsExtension(), SessionsClient::RunsExtension::Available);
        QCOMPARE(detected.size(), 1);
    }

    void backendWithoutRunsExtension()
    {
        // Trigger.dev has no /runs route: a proxy answers 404 for it.
        CuttingProxy proxy(m_server.port());
        proxy.refusePaths(QRegularExpression(QStringLiteral("/runs$")));
        QVERIFY(proxy.listen());
        ConnectionProfile profile = m_server.profile();
        profile.baseUrl = QUrl(proxy.url());
        SessionsClient client(profile);
        QSignalSpy detected(&client, &SessionsClient::runsExtensionDetected);

        auto missing = awaitResult<QList<SessionRunEntry>>(
            [&](auto done) { client.listSessionRuns(QStringLiteral("session_nope"), nullptr, done); });
        QVERIFY(!missing.ok());
        QCOMPARE(client.runsExtension(), SessionsClient::RunsExtension::Unknown);

        auto created = create(client, chatRequest(uniqueName("norun")));
        QVERIFY(created.ok());
        auto rows = awaitResult<QList<SessionRunEntry>>(
            [&](auto done) { client.listSessionRuns(created->session.id, nullptr, done); });
        QVERIFY(!rows.ok());
        QVERIFY2(rows.error().message.contains(QLatin1String("no /runs extension")), describe(rows).constData());
        QCOMPARE(client.runsExtension(), SessionsClient::RunsExtension::Unavailable);
        QCOMPARE(detected.size(), 1);
        QCOMPARE(detected.first().first().toBool(), false);

        // Detected once: later calls do not ask the backend again.
        const int connections = proxy.connections();
        rows = awaitResult<QList<SessionRunEntry>>(
            [&](auto done) { client.listSessionRuns(created->session.id, nullptr, done); });
        QVERIFY(!rows.ok());
        QCOMPARE(proxy.connections(), connections);
        QCOMPARE(detected.size(), 1);
    }

    void errorsCarryStatusMessageAndRetrySafety()
    {
        ConnectionProfile badKey = m_server.profile();
        badKey.secretKey = QStringLiteral("tr_dev_wrong_key_000000");
        SessionsClient client(badKey);
        auto denied = awaitResult<SessionListPage>([&](auto done) { client.listSessions({}, nullptr, done); });
        QVERIFY(!denied.ok());
        QCOMPARE(denied.error().httpStatus, 401);
        QVERIFY(!denied.error().message.isEmpty());
        QVERIFY(!denied.error().message.contains(badKey.secretKey));
        QVERIFY(!denied.error().retrySafe);

        SessionsClient good(m_server.profile());
        auto notFound = awaitResult<SessionItem>(
            [&](auto done) { good.retrieveSession(QStringLiteral("session_missing"), nullptr, done); });
        QVERIFY(!notFound.ok());
        QCOMPARE(notFound.error().httpStatus, 404);
        QVERIFY(!notFound.error().message.isEmpty());

        CreateSessionRequest invalid = chatRequest(QStringLiteral("session_not_allowed"));
        auto refused = create(good, invalid);
        QVERIFY(!refused.ok());
        QVERIFY(refused.error().message.contains(QLatin1String("session_")));

        // Nobody listening: a network error, safe to retry (nothing was sent).
        ConnectionProfile nowhere = ConnectionProfile::embedded(QStringLiteral("x"), QUrl("http://127.0.0.1:1"));
        SessionsClient lost(nowhere);
        auto unreachable = awaitResult<SessionItem>(
            [&](auto done) { lost.retrieveSession(QStringLiteral("session_x"), nullptr, done); });
        QVERIFY(!unreachable.ok());
        QCOMPARE(unreachable.error().httpStatus, 0);
        QVERIFY(unreachable.error().retrySafe);
    }

    void timeoutOnSilentServer()
    {
        CuttingProxy proxy(m_server.port());
        proxy.planFaults(1, 0, 0, {CuttingProxy::Fault::Freeze});
        QVERIFY(proxy.listen());
        ConnectionProfile profile = m_server.profile();
        profile.baseUrl = QUrl(proxy.url());
        SessionsClient client(profile);
        client.transport()->setTimeout(std::chrono::milliseconds(300));
        QElapsedTimer clock;
        clock.start();
        auto r = awaitResult<SessionListPage>([&](auto done) { client.listSessions({}, nullptr, done); });
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("no answer within 300 ms")), describe(r).constData());
        QVERIFY(r.error().retrySafe);
        QVERIFY(clock.elapsed() < 5000);
    }

    void contextDeathDropsCallback()
    {
        SessionsClient client(m_server.profile());
        bool called = false;
        auto *context = new QObject;
        client.retrieveSession(QStringLiteral("session_any"), context, [&](Result<SessionItem>) { called = true; });
        delete context;
        QTest::qWait(300);
        QVERIFY(!called);
        QCOMPARE(client.transport()->pendingCount(), 0);
    }

    void rateLimitedCallsWaitForReset()
    {
        TestServerProcess limited;
        QVERIFY2(limited.start({QStringLiteral("--rate-limit"), QStringLiteral("2/s")}),
                 qPrintable(limited.errorString()));
        SessionsClient client(limited.profile());
        QSignalSpy waits(client.transport(), &RestTransport::rateLimited);
        int ok = 0;
        int answered = 0;
        for (int i = 0; i < 8; ++i) {
            client.listSessions({}, nullptr, [&](Result<SessionListPage> r) {
                ++answered;
                ok += r.ok() ? 1 : 0;
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(answered, 8, 20000);
        QCOMPARE(ok, 8);
        QVERIFY(waits.size() >= 1);

        // With no budget to wait, the 429 reaches the caller as safe to retry.
        client.transport()->setRateLimitBudget(std::chrono::milliseconds(0));
        QList<Error> errors;
        answered = 0;
        for (int i = 0; i < 8; ++i) {
            client.listSessions({}, nullptr, [&](Result<SessionListPage> r) {
                ++answered;
                if (!r.ok())
                    errors.append(r.error());
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(answered, 8, 20000);
        QVERIFY(!errors.isEmpty());
        QCOMPARE(errors.first().httpStatus, 429);
        QVERIFY(errors.first().retrySafe);
        QVERIFY(errors.first().message.contains(QLatin1String("resets at")));
    }

    void secretsNeverReachTheLog()
    {
        QLoggingCategory::setFilterRules(QStringLiteral("sessionscope.*=true"));
        g_log.clear();
        const auto previous = qInstallMessageHandler(captureMessages);
        SessionsClient client(m_server.profile());
        auto created = create(client, chatRequest(uniqueName("log")));
        auto listed = awaitResult<SessionListPage>([&](auto done) { client.listSessions({}, nullptr, done); });
        ConnectionProfile wrong = m_server.profile();
        wrong.secretKey = QStringLiteral("tr_dev_another_wrong_key_99");
        SessionsClient denied(wrong);
        auto r = awaitResult<SessionListPage>([&](auto done) { denied.listSessions({}, nullptr, done); });
        qInstallMessageHandler(previous);
        QLoggingCategory::setFilterRules(QString());
        QVERIFY(created.ok());
        QVERIFY(listed.ok());
        QVERIFY(!r.ok());
        QVERIFY2(!g_log.isEmpty(), "the debug category printed nothing, so this test proves nothing");
        for (const QString &line : std::as_const(g_log)) {
            QVERIFY2(!line.contains(m_server.secretKey()), qPrintable(line));
            QVERIFY2(!line.contains(wrong.secretKey), qPrintable(line));
            QVERIFY2(!line.contains(created->publicAccessToken), qPrintable(line));
        }
    }
};

QTEST_GUILESS_MAIN(TestSessionsClient)
#include "tst_sessionsclient.moc"
