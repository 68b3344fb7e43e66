#include "net/chunkbody.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include "server/sessionserver.h"
#include "server/streamstore.h"

#include "awaitresult.h"
#include "testsessions.h"
#include "cuttingproxy.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QElapsedTimer>
#include <QSet>
#include <QSignalSpy>
#include <QTest>
#include <QTemporaryDir>
#include <QTimer>

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

// The real server, in this process, so a test can write records into it as
// fast as an agent would (fifty thousand appends over HTTP would take most of
// the time budget) and restart it in place on the same port.
class InProcessServer
{
public:
    explicit InProcessServer(const QString &key) : m_key(key) {}

    Result<void> start()
    {
        ServerConfig config;
        config.dataDir = m_dir.path();
        config.secretKey = m_key;
        config.port = m_port;
        m_server = std::make_unique<SessionServer>(config);
        if (auto r = m_server->start(); !r)
            return r;
        m_port = m_server->port();
        return {};
    }
    // Graceful: SSE streams end with [DONE], connections close.
    void stop()
    {
        if (m_server)
            m_server->stop();
        m_server.reset();
    }
    SessionServer *operator->() { return m_server.get(); }
    bool isRunning() const { return m_server != nullptr; }
    quint16 port() const { return m_port; }
    ConnectionProfile profile() const
    {
        ConnectionProfile p = ConnectionProfile::embedded(QStringLiteral("in-process"),
                                                          QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port)));
        p.secretKey = m_key;
        return p;
    }

private:
    QString m_key;
    QTemporaryDir m_dir{TestServerProcess::dataDirTemplate()};
    std::unique_ptr<SessionServer> m_server;
    quint16 m_port = 0;
};

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

    QString newSession() { return newSession(m_server.profile()); }

    static QString newSession(const ConnectionProfile &profile)
    {
        const auto created = createChatSession(profile, uniqueName("sub"));
        return created ? created->session.id : QString();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void everyRecordOnceInOrderThroughAThousandFaults()
    {
        constexpr int Records = 50000;
        constexpr int Faults = 1000;
        constexpr int Round = 40; // records the "agent" writes at a time
        InProcessServer server(m_server.secretKey());
        QVERIFY(server.start().ok());
        const QString externalId = uniqueName("faults");
        const auto created = createChatSession(server.profile(), externalId);
        QVERIFY2(created.ok(), describe(created).constData());

        // Cuts and resets at random byte offsets of the live stream (headers,
        // mid-event, between events), one fault in 40 a freeze that only the
        // stall timer can notice.
        CuttingProxy proxy(server.port());
        QList<CuttingProxy::Fault> kinds;
        for (int i = 0; i < 39; ++i)
            kinds.append(i % 2 ? CuttingProxy::Fault::Cut : CuttingProxy::Fault::Reset);
        kinds.append(CuttingProxy::Fault::Freeze);
        proxy.planFaults(Faults, 1, 8000, kinds);
        QVERIFY(proxy.listen());
        ConnectionProfile profile = server.profile();
        profile.baseUrl = QUrl(proxy.url());

        SessionOutSubscription sub(profile, created->session.id);
        SessionOutSubscription::Options options = fastOptions();
        options.timeoutSeconds = 2; // the server's own [DONE] ends connections too
        options.stallTimeout = std::chrono::milliseconds(250);
        options.backoff.maximum = std::chrono::milliseconds(5);
        sub.setOptions(options);
        Collector collected;
        collected.attach(sub);
        QSignalSpy backoffs(&sub, &SessionOutSubscription::backingOff);
        QElapsedTimer clock;
        clock.start();
        sub.start();

        // The writer goes on whenever the reader has everything so far, so
        // the faults land all along the stream rather than in one backlog.
        // Halfway the server restarts in place.
        int queued = 0;
        int committed = 0;
        bool restarted = false;
        std::optional<Error> writeError;
        QTimer writer;
        writer.setInterval(1);
        connect(&writer, &QTimer::timeout, this, [&] {
            if (queued >= Records || committed < queued || !server.isRunning())
                return;
            if (sub.recordsDelivered() < committed)
                return;
            if (!restarted && queued >= Records / 2) {
                restarted = true;
                server.stop();
                QTimer::singleShot(300, this, [&] {
                    if (auto r = server.start(); !r)
                        writeError = r.error();
                });
                return;
            }
            for (int i = 0; i < Round && queued < Records; ++i, ++queued) {
                const QJsonObject chunk{{QStringLiteral("type"), QStringLiteral("text-delta")},
                                        {QStringLiteral("id"), QStringLiteral("t")},
                                        {QStringLiteral("delta"), QString::number(queued)}};
                server->streams().append(externalId, Channel::Out,
                                         AppendRecord::data(chunk, "p" + QByteArray::number(queued)),
                                         [&](const Result<AppendOutcome> &r) {
                                             ++committed;
                                             if (!r && !writeError)
                                                 writeError = r.error();
                                         });
            }
        });
        writer.start();
        const auto status = [&] {
            return QStringLiteral("delivered %1 of %2 written, %3 connections, %4 faults, state %5, %6 ms")
                .arg(sub.recordsDelivered())
                .arg(committed)
                .arg(sub.connectionCount())
                .arg(proxy.faultsDone())
                .arg(SessionOutSubscription::stateName(sub.state()))
                .arg(clock.elapsed());
        };
        QVERIFY2(waitUntil([&] { return sub.recordsDelivered() >= Records || writeError; }, std::chrono::seconds(100)),
                 qPrintable(status()));
        writer.stop();
        QVERIFY2(!writeError, writeError ? qPrintable(writeError->message) : "");
        QVERIFY(waitUntil([&] { return sub.state() == State::CaughtUp; }, std::chrono::seconds(10)));
        qInfo("%s", qPrintable(status()));

        QVERIFY(restarted);
        QCOMPARE(proxy.faultsDone(), Faults);
        QVERIFY(backoffs.size() >= Faults);
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

    void backsOffAndRecoversWhenTheServerProcessRestarts()
    {
        TestServerProcess server;
        QVERIFY2(server.start(), qPrintable(server.errorString()));
        const QString session = newSession(server.profile());
        QVERIFY(!session.isEmpty());
        TestStreamWriter writer(server.profile());
        QVERIFY(writer.appendMany(session, 300, QStringLiteral("before")).ok());

        SessionOutSubscription sub(server.profile(), session);
        auto options = fastOptions();
        options.backoff.initial = std::chrono::milliseconds(20);
        options.backoff.maximum = std::chrono::milliseconds(400);
        sub.setOptions(options);
        Collector collected;
        collected.attach(sub);
        QList<qint64> delays;
        connect(&sub, &SessionOutSubscription::backingOff, this,
                [&](const QDateTime &next) { delays.append(QDateTime::currentDateTimeUtc().msecsTo(next)); });
        sub.start();
        QVERIFY(waitUntil([&] { return sub.state() == State::CaughtUp; }, std::chrono::seconds(10)));
        QCOMPARE(collected.seqs.size(), 300);

        // A crash: no [DONE], no goodbye. The subscription backs off, longer
        // and longer, while nobody listens.
        server.kill();
        QVERIFY(waitUntil([&] { return delays.size() >= 5; }, std::chrono::seconds(10)));
        QCOMPARE(sub.state(), State::BackingOff);
        QVERIFY(sub.nextAttemptAt().isValid());
        QVERIFY2(delays.last() > delays.first(), qPrintable(QStringLiteral("%1 -> %2").arg(delays.first()).arg(delays.last())));
        QVERIFY(delays.last() <= 400);

        QVERIFY2(server.restart(), qPrintable(server.errorString()));
        QVERIFY(waitUntil([&] { return sub.state() == State::CaughtUp; }, std::chrono::seconds(10)));
        QVERIFY(writer.appendMany(session, 200, QStringLiteral("after")).ok());
        QVERIFY(waitUntil([&] { return collected.seqs.size() >= 500; }, std::chrono::seconds(10)));
        QCOMPARE(collected.seqs.size(), 500);
        QCOMPARE(collected.seqs.last(), 499);
        QCOMPARE(collected.orderViolations, 0);
        QCOMPARE(collected.duplicatePartIds, 0);
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
