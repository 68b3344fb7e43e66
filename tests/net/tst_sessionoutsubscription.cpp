#include "net/chunkbody.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include "server/sessionserver.h"
#include "server/streamstore.h"

#include "awaitresult.h"
#include "cuttingproxy.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QElapsedTimer>
#include <QSet>
#include <QSignalSpy>
#include <QTest>
#include <QUuid>

using namespace sessionscope;

namespace {

using State = SessionOutSubscription::State;

// Everything a subscription delivered, checked as it arrives: strictly
// increasing seqs, each part id once.
struct Collector
{
    QList<qint64> seqs;
    QSet<QByteArray> partIds;
    int batches = 0;
    int orderViolations = 0;
    int duplicatePartIds = 0;
    QList<StreamRecord> records;
    bool keepRecords = false;

    void attach(SessionOutSubscription &sub)
    {
        QObject::connect(&sub, &SessionOutSubscription::recordsReceived, &sub,
                         [this](const QList<StreamRecord> &batch) { take(batch); });
    }

    void take(const QList<StreamRecord> &batch)
    {
        ++batches;
        for (const StreamRecord &r : batch) {
            if (!seqs.isEmpty() && r.seqNum <= seqs.last())
                ++orderViolations;
            seqs.append(r.seqNum);
            if (r.kind == RecordKind::Data) {
                const auto body = decodeBody(r);
                if (body && !body->partId.isEmpty()) {
                    if (partIds.contains(body->partId))
                        ++duplicatePartIds;
                    partIds.insert(body->partId);
                }
            }
            if (keepRecords)
                records.append(r);
        }
    }
};

// Writes `count` .out records into a server's data dir with the server's own
// store, in one transaction, before the server process starts: fifty thousand
// appends over HTTP would take most of the test's time budget.
Result<QString> seedStream(const TestServerProcess &target, int count)
{
    ServerConfig config;
    config.dataDir = target.dataDir();
    config.secretKey = target.secretKey();
    SessionServer seeder(config);
    if (auto started = seeder.start(); !started)
        return started.error();
    ConnectionProfile profile = ConnectionProfile::embedded(QStringLiteral("seed"), seeder.baseUrl());
    profile.secretKey = target.secretKey();
    SessionsClient client(profile);
    CreateSessionRequest request;
    request.externalId = QStringLiteral("seeded-%1").arg(QUuid::createUuid().toString(QUuid::Id128).left(12));
    request.taskIdentifier = QStringLiteral("ai-chat");
    request.basePayload = QJsonObject{{QStringLiteral("chatId"), request.externalId},
                                      {QStringLiteral("trigger"), QStringLiteral("preload")}};
    auto created = awaitResult<CreatedSession>([&](auto done) { client.createSession(request, nullptr, done); });
    if (!created)
        return created.error();
    int committed = 0;
    std::optional<Error> failure;
    for (int i = 0; i < count; ++i) {
        const QJsonObject chunk{{QStringLiteral("type"), QStringLiteral("text-delta")},
                                {QStringLiteral("id"), QStringLiteral("t")},
                                {QStringLiteral("delta"), QString::number(i)}};
        seeder.streams().append(request.externalId, Channel::Out,
                                AppendRecord::data(chunk, "p" + QByteArray::number(i)),
                                [&](const Result<AppendOutcome> &r) {
                                    ++committed;
                                    if (!r && !failure)
                                        failure = r.error();
                                });
    }
    seeder.streams().flush();
    if (!waitUntil([&] { return committed == count; }, std::chrono::seconds(60)))
        return Error::make(QStringLiteral("only %1 of %2 seeded records were committed").arg(committed).arg(count));
    if (failure)
        return *failure;
    seeder.stop();
    return created->session.id;
}

SessionOutSubscription::Options fastOptions()
{
    SessionOutSubscription::Options o;
    o.backoff.initial = std::chrono::milliseconds(1);
    o.backoff.maximum = std::chrono::milliseconds(20);
    o.stallTimeout = std::chrono::milliseconds(400);
    o.connectTimeout = std::chrono::milliseconds(3000);
    o.peekSettled = false;
    return o;
}

} // namespace

class TestSessionOutSubscription : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

    QString newSession()
    {
        SessionsClient client(m_server.profile());
        CreateSessionRequest r;
        r.externalId = QStringLiteral("sub-%1").arg(QUuid::createUuid().toString(QUuid::Id128).left(12));
        r.taskIdentifier = QStringLiteral("ai-chat");
        r.basePayload = QJsonObject{{QStringLiteral("chatId"), r.externalId},
                                    {QStringLiteral("trigger"), QStringLiteral("preload")}};
        auto created = awaitResult<CreatedSession>([&](auto done) { client.createSession(r, nullptr, done); });
        return created ? created->session.id : QString();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void everyRecordOnceInOrderThroughFaultsAndARestart()
    {
        constexpr int Records = 50000;
        constexpr int Faults = 1000;
        // Its own server: seeded before it starts, killed and restarted below.
        TestServerProcess server;
        QElapsedTimer clock;
        clock.start();
        const auto seeded = seedStream(server, Records);
        QVERIFY2(seeded.ok(), describe(seeded).constData());
        const QString session = *seeded;
        qInfo("seeded %d records in %lld ms", Records, clock.elapsed());
        QVERIFY2(server.start(), qPrintable(server.errorString()));

        CuttingProxy proxy(server.port());
        // Mostly cuts and resets at random byte offsets; one in 40 freezes
        // so the stall timer has to notice.
        QList<CuttingProxy::Fault> kinds;
        for (int i = 0; i < 39; ++i)
            kinds.append(i % 2 ? CuttingProxy::Fault::Cut : CuttingProxy::Fault::Reset);
        kinds.append(CuttingProxy::Fault::Freeze);
        proxy.planFaults(Faults, 1, 12000, kinds);
        QVERIFY(proxy.listen());
        ConnectionProfile profile = server.profile();
        profile.baseUrl = QUrl(proxy.url());

        SessionOutSubscription sub(profile, session);
        SessionOutSubscription::Options options = fastOptions();
        options.timeoutSeconds = 2; // the server's own [DONE] ends connections too
        options.stallTimeout = std::chrono::milliseconds(250);
        options.backoff.maximum = std::chrono::milliseconds(5);
        sub.setOptions(options);
        Collector collected;
        collected.attach(sub);
        QSignalSpy backoffs(&sub, &SessionOutSubscription::backingOff);
        sub.start();

        // Halfway, the server dies (SIGKILL) and comes back on the same port.
        const auto status = [&] {
            return QStringLiteral("delivered %1, %2 connections, %3 faults, state %4, %5 ms")
                .arg(sub.recordsDelivered())
                .arg(sub.connectionCount())
                .arg(proxy.faultsDone())
                .arg(SessionOutSubscription::stateName(sub.state()))
                .arg(clock.elapsed());
        };
        QVERIFY2(waitUntil([&] { return sub.recordsDelivered() >= Records / 2; }, std::chrono::milliseconds(60000)),
                 qPrintable(status()));
        qInfo("half the records after %lld ms, %d faults, %d connections", clock.elapsed(), proxy.faultsDone(),
              sub.connectionCount());
        server.kill();
        const qsizetype backoffsBefore = backoffs.size();
        QVERIFY(waitUntil([&] { return sub.state() == State::BackingOff; }, std::chrono::milliseconds(5000)));
        QTest::qWait(300);
        QVERIFY(sub.state() == State::BackingOff || sub.state() == State::Connecting);
        QVERIFY(backoffs.size() > backoffsBefore);
        QVERIFY2(server.restart(), qPrintable(server.errorString()));

        QVERIFY2(waitUntil([&] { return sub.recordsDelivered() >= Records; }, std::chrono::milliseconds(90000)),
                 qPrintable(QStringLiteral("delivered %1 of %2, state %3")
                                .arg(sub.recordsDelivered())
                                .arg(Records)
                                .arg(SessionOutSubscription::stateName(sub.state()))));
        QVERIFY(waitUntil([&] { return sub.state() == State::CaughtUp; }, std::chrono::milliseconds(10000)));
        qInfo("streamed with %d faults over %d connections in %lld ms total", proxy.faultsDone(),
              sub.connectionCount(), clock.elapsed());

        QCOMPARE(proxy.faultsDone(), Faults);
        QCOMPARE(collected.orderViolations, 0);
        QCOMPARE(collected.duplicatePartIds, 0);
        QCOMPARE(collected.seqs.size(), Records);
        QCOMPARE(collected.seqs.first(), 0);
        QCOMPARE(collected.seqs.last(), Records - 1);
        QCOMPARE(collected.partIds.size(), Records);
        QCOMPARE(sub.lastSeq(), qint64(Records - 1));
        QVERIFY(sub.connectionCount() > Faults);
        // Nothing more arrives once caught up.
        QTest::qWait(200);
        QCOMPARE(sub.recordsDelivered(), qint64(Records));
    }

    void doneReconnectsAndLiveRecordsFollow()
    {
        const QString session = newSession();
        TestStreamWriter writer(m_server.profile());
        QVERIFY(writer.appendMany(session, 5).ok());
        SessionOutSubscription sub(m_server.profile(), session);
        auto options = fastOptions();
        options.timeoutSeconds = 1;
        options.stallTimeout = std::chrono::milliseconds(8000);
        sub.setOptions(options);
        Collector collected;
        collected.attach(sub);
        QSignalSpy caughtUp(&sub, &SessionOutSubscription::caughtUp);
        QSignalSpy tails(&sub, &SessionOutSubscription::tailChanged);
        sub.start();
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), State::CaughtUp, 5000);
        QCOMPARE(caughtUp.first().first().toLongLong(), 4);
        QVERIFY(tails.size() >= 1);
        QCOMPARE(sub.tail()->seqNum, 5);

        // Each second the server ends with [DONE]; the subscription goes on.
        QVERIFY(waitUntil([&] { return sub.connectionCount() >= 3; }, std::chrono::milliseconds(6000)));
        QVERIFY(writer.appendMany(session, 3, QStringLiteral("late")).ok());
        QTRY_COMPARE_WITH_TIMEOUT(collected.seqs.size(), 8, 5000);
        QCOMPARE(collected.seqs.last(), 7);
        QCOMPARE(collected.orderViolations, 0);
        QCOMPARE(sub.duplicatesDropped(), 0);
    }

    void startAfterSeqAndCommandsMoveTheCursor()
    {
        const QString session = newSession();
        TestStreamWriter writer(m_server.profile());
        QVERIFY(writer.appendMany(session, 4).ok());
        auto trim = writer.appendCommand(session, "trim");
        QVERIFY2(trim.ok(), describe(trim).constData());
        QCOMPARE(*trim, 4);
        QVERIFY(writer.appendMany(session, 2, QStringLiteral("after")).ok());

        SessionOutSubscription sub(m_server.profile(), session);
        sub.setOptions(fastOptions());
        Collector collected;
        collected.keepRecords = true;
        collected.attach(sub);
        sub.start(1);
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), State::CaughtUp, 5000);
        QCOMPARE(collected.seqs, (QList<qint64>{2, 3, 4, 5, 6}));
        QCOMPARE(collected.records.at(2).kind, RecordKind::Command);
        QCOMPARE(collected.records.at(2).subtype(), QByteArray("trim"));
        QCOMPARE(sub.lastSeq(), 6);
    }

    void settledSessionStopsAndResumes()
    {
        const QString session = newSession();
        TestStreamWriter writer(m_server.profile());
        QVERIFY(writer.appendMany(session, 2).ok());
        QVERIFY(writer.appendControl(session, "turn-complete", {{"session-in-event-id", "0"}}).ok());
        QVERIFY(writer.appendCommand(session, "trim").ok());

        SessionOutSubscription sub(m_server.profile(), session);
        auto options = fastOptions();
        options.peekSettled = true;
        options.timeoutSeconds = 1;
        options.stallTimeout = std::chrono::milliseconds(8000);
        sub.setOptions(options);
        Collector collected;
        collected.attach(sub);
        QSignalSpy settled(&sub, &SessionOutSubscription::settled);
        sub.start();
        // The first connection does not peek; after its [DONE] the reconnect
        // does, and the server says the session is settled.
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), State::Settled, 6000);
        QCOMPARE(settled.size(), 1);
        QCOMPARE(settled.first().first().toLongLong(), 3);
        QCOMPARE(collected.seqs, (QList<qint64>{0, 1, 2, 3}));
        const int connections = sub.connectionCount();
        QTest::qWait(1500);
        QCOMPARE(sub.connectionCount(), connections);

        sub.resume();
        QVERIFY(waitUntil([&] { return sub.state() == State::CaughtUp; }, std::chrono::milliseconds(5000)));
        QVERIFY(writer.appendMany(session, 1, QStringLiteral("next")).ok());
        QTRY_COMPARE_WITH_TIMEOUT(collected.seqs.size(), 5, 5000);
        QCOMPARE(collected.seqs.last(), 4);
    }

    void finalRefusalsFail()
    {
        SessionOutSubscription missing(m_server.profile(), QStringLiteral("session_doesnotexist"));
        missing.setOptions(fastOptions());
        QSignalSpy failed(&missing, &SessionOutSubscription::failed);
        missing.start();
        QTRY_COMPARE_WITH_TIMEOUT(missing.state(), State::Failed, 5000);
        QCOMPARE(failed.size(), 1);
        QCOMPARE(missing.failure().httpStatus, 404);
        QVERIFY(!missing.failure().message.isEmpty());
        QCOMPARE(missing.connectionCount(), 1);

        const QString session = newSession();
        ConnectionProfile wrong = m_server.profile();
        wrong.secretKey = QStringLiteral("tr_dev_not_the_key");
        SessionOutSubscription denied(wrong, session);
        denied.setOptions(fastOptions());
        denied.start();
        QTRY_COMPARE_WITH_TIMEOUT(denied.state(), State::Failed, 5000);
        QCOMPARE(denied.failure().httpStatus, 401);

        SessionOutSubscription timeoutOutOfRange(m_server.profile(), session);
        auto options = fastOptions();
        options.timeoutSeconds = 5000; // clamped to 600, which the server accepts
        timeoutOutOfRange.setOptions(options);
        QCOMPARE(timeoutOutOfRange.options().timeoutSeconds, 600);
    }

    void backsOffWhileNobodyListensThenGivesUp()
    {
        ConnectionProfile nowhere = ConnectionProfile::embedded(QStringLiteral("x"), QUrl("http://127.0.0.1:1"));
        SessionOutSubscription sub(nowhere, QStringLiteral("session_x"));
        auto options = fastOptions();
        options.backoff.initial = std::chrono::milliseconds(20);
        options.backoff.maximum = std::chrono::milliseconds(160);
        options.maxConsecutiveFailures = 8;
        sub.setOptions(options);
        QList<qint64> delays;
        connect(&sub, &SessionOutSubscription::backingOff, this, [&](const QDateTime &next, const Error &reason) {
            delays.append(QDateTime::currentDateTimeUtc().msecsTo(next));
            QVERIFY(reason.retrySafe);
        });
        sub.start();
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), State::Failed, 10000);
        QVERIFY(sub.failure().message.contains(QLatin1String("gave up after 8")));
        QCOMPARE(delays.size(), 7);
        // Exponential with jitter in [d/2, d], capped.
        QVERIFY(delays.first() <= 21);
        QVERIFY(delays.last() >= 75 && delays.last() <= 161);
        QCOMPARE(sub.connectionCount(), 8);
    }

    void inChannelToo()
    {
        const QString session = newSession();
        InAppender appender(m_server.profile(), session);
        auto sent = awaitResult<InAppendResult>([&](auto done) {
            appender.sendMessage(QStringLiteral("hello"), QJsonObject{{QStringLiteral("appVersion"), QStringLiteral("1")}},
                                 nullptr, done);
        });
        QVERIFY2(sent.ok(), describe(sent).constData());

        SessionOutSubscription sub(m_server.profile(), session);
        auto options = fastOptions();
        options.channel = Channel::In;
        sub.setOptions(options);
        Collector collected;
        collected.keepRecords = true;
        collected.attach(sub);
        sub.start();
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), State::CaughtUp, 5000);
        QVERIFY(!collected.records.isEmpty());
        const StreamRecord &last = collected.records.last();
        QCOMPARE(last.seqNum, sent->seq);
        const auto body = decodeBody(last);
        QVERIFY2(body.ok(), describe(body).constData());
        QCOMPARE(body->channel(), Channel::In);
        QCOMPARE(body->partId, sent->partId.toUtf8());
        QCOMPARE(body->data["kind"].get<std::string>(), std::string("message"));
    }
};

QTEST_GUILESS_MAIN(TestSessionOutSubscription)
#include "tst_sessionoutsubscription.moc"
