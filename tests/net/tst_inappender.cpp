#include "net/chunkbody.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include "awaitresult.h"
#include "testsessions.h"
#include "cuttingproxy.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace sessionscope;

namespace {

BackoffPolicy quickBackoff()
{
    BackoffPolicy p;
    p.initial = std::chrono::milliseconds(50);
    p.maximum = std::chrono::milliseconds(300);
    return p;
}

} // namespace

class TestInAppender : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

    static Result<CreatedSession> newSession(const ConnectionProfile &profile)
    {
        return createChatSession(profile, uniqueName("in"));
    }

    // The `.in` records of a session, read with a real subscription.
    QList<StreamRecord> inRecords(const QString &session)
    {
        SessionOutSubscription sub(m_server.profile(), session);
        SessionOutSubscription::Options o;
        o.channel = Channel::In;
        o.peekSettled = false;
        sub.setOptions(o);
        QList<StreamRecord> records;
        connect(&sub, &SessionOutSubscription::recordsReceived, this,
                [&records](const QList<StreamRecord> &batch) { records += batch; });
        sub.start();
        if (!QTest::qWaitFor([&] { return sub.state() == SessionOutSubscription::State::CaughtUp; }, 10000))
            qWarning("the .in subscription did not catch up: %s",
                     qPrintable(SessionOutSubscription::stateName(sub.state())));
        return records;
    }

    static int countPart(const QList<StreamRecord> &records, const QString &partId)
    {
        int n = 0;
        for (const StreamRecord &r : records) {
            const auto body = decodeBody(r);
            if (body && body->partId == partId.toUtf8())
                ++n;
        }
        return n;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void sendsEveryChunkKind()
    {
        const auto session = newSession(m_server.profile());
        QVERIFY(session.ok());
        const QString id = session->session.id;
        InAppender appender(m_server.profile(), id);
        appender.setChatId(session->session.externalId);
        QSignalSpy appended(&appender, &InAppender::appended);
        const QJsonObject clientData{{QStringLiteral("protocolVersion"), 2}};

        QList<qint64> seqs;
        QStringList partIds;
        const auto send = [&](auto call) {
            auto r = awaitResult<InAppendResult>(call);
            QVERIFY2(r.ok(), describe(r).constData());
            QCOMPARE(r->attempts, 1);
            seqs.append(r->seq);
            partIds.append(r->partId);
        };
        send([&](auto done) { appender.sendMessage(QStringLiteral("hi there"), clientData, nullptr, done); });
        send([&](auto done) {
            appender.sendAction(QJsonObject{{QStringLiteral("type"), QStringLiteral("undo")}}, clientData, nullptr, done);
        });
        send([&](auto done) { appender.sendRegenerate(QStringLiteral("m1"), clientData, nullptr, done); });
        send([&](auto done) { appender.sendStop(QStringLiteral("enough"), nullptr, done); });
        QCOMPARE(appended.size(), 4);
        for (int i = 1; i < seqs.size(); ++i)
            QVERIFY(seqs[i] > seqs[i - 1]);
        // Messages, actions and regenerations wait for their turn; stops do not.
        QCOMPARE(appender.awaitingTurn(), 3);

        const QList<StreamRecord> records = inRecords(id);
        QCOMPARE(records.size(), 4);
        const char *triggers[] = {"submit-message", "action", "regenerate-message"};
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(records[i].seqNum, seqs[i]);
            const auto body = decodeBody(records[i]);
            QVERIFY2(body.ok(), describe(body).constData());
            QCOMPARE(body->partId, partIds[i].toUtf8());
            const auto &data = body->data;
            if (i < 3) {
                QCOMPARE(data["kind"].get<std::string>(), std::string("message"));
                QCOMPARE(data["payload"]["trigger"].get<std::string>(), std::string(triggers[i]));
                QCOMPARE(data["payload"]["chatId"].get<std::string>(), session->session.externalId.toStdString());
                QCOMPARE(data["payload"]["metadata"]["protocolVersion"].get<int>(), 2);
            }
        }
        QCOMPARE(body(records[0])["payload"]["message"]["parts"][0]["text"].get<std::string>(),
                 std::string("hi there"));
        QCOMPARE(body(records[0])["payload"]["message"]["role"].get<std::string>(), std::string("user"));
        QCOMPARE(body(records[1])["payload"]["action"]["type"].get<std::string>(), std::string("undo"));
        QCOMPARE(body(records[2])["payload"]["messageId"].get<std::string>(), std::string("m1"));
        QCOMPARE(body(records[3])["kind"].get<std::string>(), std::string("stop"));
        QCOMPARE(body(records[3])["message"].get<std::string>(), std::string("enough"));
    }

    void lostAnswerAndServerRestartStillOneRecord()
    {
        const auto session = newSession(m_server.profile());
        QVERIFY(session.ok());
        const QString id = session->session.id;

        // The answer is lost after the server committed the record (three
        // times, as QNAM itself resends a request whose connection closed
        // before any answer); then the server dies and comes back later.
        CuttingProxy proxy(m_server.port());
        proxy.dropNextAnswers(3);
        QVERIFY(proxy.listen());
        ConnectionProfile viaProxy = m_server.profile();
        viaProxy.baseUrl = QUrl(proxy.url());
        InAppender appender(viaProxy, id);
        appender.setBackoffPolicy(quickBackoff());
        appender.setRetryLimits(40, std::chrono::seconds(30));
        QSignalSpy retrying(&appender, &InAppender::retrying);
        bool restarted = false;
        connect(&appender, &InAppender::retrying, this, [&](const QString &, int attempt, const Error &reason) {
            QVERIFY(reason.retrySafe || reason.httpStatus >= 500);
            if (attempt == 1) {
                m_server.kill();
                QTimer::singleShot(800, this, [&] { restarted = m_server.restart(); });
            }
        });

        auto r = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("exactly once"), {}, nullptr, done); },
            std::chrono::seconds(40));
        QVERIFY2(r.ok(), describe(r).constData());
        QVERIFY(restarted);
        QVERIFY(proxy.answersDropped() >= 1);
        QVERIFY(r->attempts >= 2);
        QCOMPARE(retrying.size(), r->attempts - 1);
        for (const auto &args : retrying)
            QCOMPARE(args.at(0).toString(), r->partId);

        const QList<StreamRecord> records = inRecords(id);
        QCOMPARE(countPart(records, r->partId), 1);
        QCOMPARE(records.size(), 1);
        QCOMPARE(records.first().seqNum, r->seq);
    }

    void finalRefusalsCarryTheServerMessage()
    {
        const auto session = newSession(m_server.profile());
        QVERIFY(session.ok());
        const QString id = session->session.id;
        InAppender appender(m_server.profile(), id);
        appender.setBackoffPolicy(quickBackoff());
        QSignalSpy failed(&appender, &InAppender::failed);
        QSignalSpy retrying(&appender, &InAppender::retrying);

        auto tooLarge = awaitResult<InAppendResult>([&](auto done) {
            appender.sendMessage(QString(1100 * 1024, QLatin1Char('x')), {}, nullptr, done);
        });
        QVERIFY(!tooLarge.ok());
        QCOMPARE(tooLarge.error().httpStatus, 413);
        QVERIFY2(tooLarge.error().message.contains(QLatin1String("too large")), describe(tooLarge).constData());

        // Another session's token may not write here.
        const auto other = newSession(m_server.profile());
        QVERIFY(other.ok());
        InAppender foreign(m_server.profile(), id);
        foreign.transport()->setBearer(other->publicAccessToken);
        auto forbidden = awaitResult<InAppendResult>(
            [&](auto done) { foreign.sendMessage(QStringLiteral("nope"), {}, nullptr, done); });
        QVERIFY(!forbidden.ok());
        QCOMPARE(forbidden.error().httpStatus, 403);
        QVERIFY(!forbidden.error().message.isEmpty());

        InAppender unauthorized(m_server.profile(), id);
        unauthorized.transport()->setBearer(QStringLiteral("tr_dev_bogus"));
        auto denied = awaitResult<InAppendResult>(
            [&](auto done) { unauthorized.sendMessage(QStringLiteral("nope"), {}, nullptr, done); });
        QVERIFY(!denied.ok());
        QCOMPARE(denied.error().httpStatus, 401);

        // Its own token works.
        InAppender own(m_server.profile(), id);
        own.transport()->setBearer(session->publicAccessToken);
        auto allowed = awaitResult<InAppendResult>(
            [&](auto done) { own.sendMessage(QStringLiteral("mine"), {}, nullptr, done); });
        QVERIFY2(allowed.ok(), describe(allowed).constData());

        SessionsClient client(m_server.profile());
        QVERIFY(awaitResult<SessionItem>([&](auto done) { client.closeSession(id, {}, nullptr, done); }).ok());
        auto closed = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("late"), {}, nullptr, done); });
        QVERIFY(!closed.ok());
        QCOMPARE(closed.error().httpStatus, 400);
        QCOMPARE(closed.error().message, QStringLiteral("Cannot append to a closed session"));

        QCOMPARE(failed.size(), 2);
        QCOMPARE(retrying.size(), 0);

        auto badPart = awaitResult<InAppendResult>([&](auto done) {
            appender.sendChunk(InAppender::stopChunk({}), nullptr, done, QString(65, QLatin1Char('p')));
        });
        QVERIFY(!badPart.ok());
        QVERIFY(badPart.error().message.contains(QLatin1String("64")));
    }

    void givesUpWhenNobodyAnswers()
    {
        ConnectionProfile nowhere = ConnectionProfile::embedded(QStringLiteral("x"), QUrl("http://127.0.0.1:1"));
        InAppender appender(nowhere, QStringLiteral("session_x"));
        appender.setBackoffPolicy(quickBackoff());
        appender.setRetryLimits(3, std::chrono::seconds(10));
        QSignalSpy retrying(&appender, &InAppender::retrying);
        auto r = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("x"), {}, nullptr, done); });
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("gave up after 3 attempts")), describe(r).constData());
        QCOMPARE(retrying.size(), 2);
        QCOMPARE(appender.inFlight(), 0);
    }

    void waitsOutRateLimits()
    {
        TestServerProcess limited;
        QVERIFY2(limited.start({QStringLiteral("--rate-limit"), QStringLiteral("3/s")}),
                 qPrintable(limited.errorString()));
        const auto session = newSession(limited.profile());
        QVERIFY(session.ok());
        InAppender appender(limited.profile(), session->session.id);
        QSignalSpy waits(appender.transport(), &RestTransport::rateLimited);
        int ok = 0;
        int answered = 0;
        for (int i = 0; i < 10; ++i)
            appender.sendMessage(QStringLiteral("m%1").arg(i), {}, nullptr, [&](Result<InAppendResult> r) {
                ++answered;
                ok += r.ok() ? 1 : 0;
            });
        QTRY_COMPARE_WITH_TIMEOUT(answered, 10, 20000);
        QCOMPARE(ok, 10);
        QVERIFY(waits.size() >= 1);
    }

    void correlatesTurnComplete()
    {
        const auto session = newSession(m_server.profile());
        QVERIFY(session.ok());
        const QString id = session->session.id;
        InAppender appender(m_server.profile(), id);
        const auto out = feedTurns(appender, id);
        QSignalSpy completed(&appender, &InAppender::turnCompleted);
        out->start();

        auto first = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("one"), {}, nullptr, done); });
        auto second = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("two"), {}, nullptr, done); });
        QVERIFY(first.ok() && second.ok());
        QCOMPARE(appender.awaitingTurn(), 2);

        TestStreamWriter writer(m_server.profile());
        // A turn-complete for an earlier .in record answers neither send.
        if (first->seq > 0)
            QVERIFY(writer.appendControl(id, "turn-complete", {{"session-in-event-id", QByteArray::number(first->seq - 1)}})
                        .ok());
        auto tc = writer.appendControl(id, "turn-complete", {{"session-in-event-id", QByteArray::number(first->seq)}});
        QVERIFY(tc.ok());
        QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, 5000);
        QCOMPARE(completed.first().at(0).toString(), first->partId);
        QCOMPARE(completed.first().at(1).toLongLong(), first->seq);
        QCOMPARE(completed.first().at(2).value<StreamRecord>().seqNum, *tc);
        QCOMPARE(appender.awaitingTurn(), 1);

        QVERIFY(writer.appendControl(id, "turn-complete", {{"session-in-event-id", QByteArray::number(second->seq)}})
                    .ok());
        QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 2, 5000);
        QCOMPARE(completed.last().at(0).toString(), second->partId);
        QCOMPARE(appender.awaitingTurn(), 0);
    }

    // With `.in` through an edge proxy and `.out` direct, the agent's
    // turn-complete can arrive before the append's own answer does.
    void matchesTurnCompleteSeenBeforeItsAppend()
    {
        const auto session = newSession(m_server.profile());
        QVERIFY(session.ok());
        const QString id = session->session.id;
        InAppender appender(m_server.profile(), id);
        const auto out = feedTurns(appender, id);
        QSignalSpy received(out.get(), &SessionOutSubscription::recordsReceived);
        QSignalSpy completed(&appender, &InAppender::turnCompleted);
        out->start();

        // The answer to .in #0, seen before anything was appended.
        TestStreamWriter writer(m_server.profile());
        auto tc = writer.appendControl(id, "turn-complete", {{"session-in-event-id", "0"}});
        QVERIFY(tc.ok());
        QTRY_VERIFY_WITH_TIMEOUT(!received.isEmpty(), 5000);
        QCOMPARE(completed.size(), 0);

        auto first = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("one"), {}, nullptr, done); });
        QVERIFY(first.ok());
        QCOMPARE(first->seq, 0);
        QCOMPARE(completed.size(), 1);
        QCOMPARE(completed.first().at(0).toString(), first->partId);
        QCOMPARE(completed.first().at(2).value<StreamRecord>().seqNum, *tc);
        QCOMPARE(appender.awaitingTurn(), 0);

        // A later send is not answered by that older turn-complete.
        auto second = awaitResult<InAppendResult>(
            [&](auto done) { appender.sendMessage(QStringLiteral("two"), {}, nullptr, done); });
        QVERIFY(second.ok());
        QCOMPARE(completed.size(), 1);
        QCOMPARE(appender.awaitingTurn(), 1);
    }

private:
    // A `.out` subscription of `session` (not started) that feeds `appender`.
    std::unique_ptr<SessionOutSubscription> feedTurns(InAppender &appender, const QString &session)
    {
        auto out = std::make_unique<SessionOutSubscription>(m_server.profile(), session);
        SessionOutSubscription::Options o;
        o.peekSettled = false;
        out->setOptions(o);
        connect(out.get(), &SessionOutSubscription::recordsReceived, &appender, &InAppender::observeRecords);
        return out;
    }

    static nlohmann::json body(const StreamRecord &record)
    {
        const auto b = decodeBody(record);
        return b ? b->data : nlohmann::json();
    }
};

QTEST_GUILESS_MAIN(TestInAppender)
#include "tst_inappender.moc"
