// SSE subscriptions in S2's batch format: framing, resume, live fan-out,
// pings, timeouts, settled peeks, trims, disconnects.

#include "httptestclient.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"
#include "ssetestclient.h"
#include "testserver.h"

#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

QByteArray secretAuth()
{
    return QByteArray("Bearer ") + TestServer::SecretKey;
}

QList<qint64> seqs(const QList<SseTestRecord> &records)
{
    QList<qint64> out;
    for (const auto &r : records)
        out << r.seq;
    return out;
}

QList<qint64> range(qint64 from, qint64 to)
{
    QList<qint64> out;
    for (qint64 i = from; i < to; ++i)
        out << i;
    return out;
}

} // namespace

class TstSse : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void framingIsS2Batch();
    void resumeFromEveryLastEventId();
    void lastEventIdForms();
    void backlogThenLiveAndIdenticalSubscribers();
    void timeoutEndsWithDone();
    void timeoutHeaderValidation();
    void pingsCarryTheTail();
    void peekSettled();
    void trimmedRecordsAreNotServed();
    void subscribeBeforeTheSessionExists();
    void disconnectReleasesTheSubscriber();
    void connectionIsReusableAfterTheStream();
    void networkAccessManagerReadsIt();
    void backlogBeyondTheMemoryWindow();
    void fanOutToManySubscribers();

private:
    // Appends `count` data records to .out in-process, in one group commit.
    void fillOut(const QString &key, int count, int from = 0);
    std::unique_ptr<SseTestClient> subscribe(const QByteArray &key, const QByteArray &io,
                                             const QList<TestHeader> &extra = {});

    std::unique_ptr<TestServer> m_server;
};

void TstSse::init()
{
    ServerConfig config;
    config.pingIntervalMs = 5000;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
}

void TstSse::cleanup()
{
    m_server.reset();
}

void TstSse::fillOut(const QString &key, int count, int from)
{
    int acked = 0;
    for (int i = from; i < from + count; ++i) {
        m_server->server().streams().append(
            key, Channel::Out,
            AppendRecord::data(QJsonObject{{"type", "text-delta"}, {"delta", QString::number(i)}},
                               "p" + QByteArray::number(i)),
            [&](const Result<AppendOutcome> &r) { acked += r.ok(); });
    }
    m_server->server().streams().flush();
    QCOMPARE(acked, count);
}

std::unique_ptr<SseTestClient> TstSse::subscribe(const QByteArray &key, const QByteArray &io,
                                                 const QList<TestHeader> &extra)
{
    QList<TestHeader> headers{{"Authorization", secretAuth()}};
    headers << extra;
    auto client = std::make_unique<SseTestClient>(
        m_server->base(), "/realtime/v1/sessions/" + key + "/" + io, headers);
    client->open();
    return client;
}

void TstSse::framingIsS2Batch()
{
    m_server->createSession("chat-frame");
    QCOMPARE(m_server->appendIn("chat-frame", R"({"kind":"stop"})", "p1").status, 200);
    auto sub = subscribe("chat-frame", "in", {{"Timeout-Seconds", "1"}});
    QVERIFY(sub->waitForEnd(5000));
    QCOMPARE(sub->status(), 200);
    QCOMPARE(sub->header("content-type"), QByteArray("text/event-stream"));
    QCOMPARE(sub->header("cache-control"), QByteArray("no-cache"));
    QCOMPARE(sub->header("x-stream-version"), QByteArray("v2"));
    QCOMPARE(sub->header("access-control-expose-headers"), QByteArray("*"));
    QCOMPARE(sub->header("transfer-encoding"), QByteArray("chunked"));
    QVERIFY(sub->ended());

    const QByteArray body = sub->body();
    static const QRegularExpression batch(QStringLiteral(
        R"(^id: 0,1,\d+\nevent: batch\ndata: \{"records":\[\{"seq_num":0,"timestamp":(\d+),"body":"\{\\"data\\":\\"\{\\\\\\"kind\\\\\\":\\\\\\"stop\\\\\\"\}\\",\\"id\\":\\"p1\\"\}","headers":\[\]\}\],"tail":\{"seq_num":1,"timestamp":\1\}\}\n\n)"));
    QVERIFY2(batch.match(QString::fromUtf8(body)).hasMatch(), body.constData());
    QVERIFY(body.endsWith("data: [DONE]\n\n"));
    QCOMPARE(sub->records().size(), 1);
    QCOMPARE(sub->records().first().body,
             QByteArray(R"({"data":"{\"kind\":\"stop\"}","id":"p1"})"));
    QVERIFY(sub->sawDone());
    QVERIFY(sub->errors().isEmpty());
}

void TstSse::resumeFromEveryLastEventId()
{
    m_server->createSession("chat-resume");
    fillOut(QStringLiteral("chat-resume"), 1000);
    // Every cursor, from "no header" (-1) to the last record: exactly the tail.
    for (int last = -1; last < 1000; ++last) {
        QList<TestHeader> headers;
        if (last >= 0)
            headers.append({"Last-Event-ID", QByteArray::number(last)});
        auto sub = std::make_unique<SseTestClient>(
            m_server->base(), "/realtime/v1/sessions/chat-resume/out",
            headers + QList<TestHeader>{{"Authorization", secretAuth()}});
        sub->setSeqOnly(true);
        sub->open();
        QVERIFY(sub->waitFor(
            [&] { return sub->lastTailSeq() == 1000 && sub->records().size() >= 999 - last; },
            10000));
        QCOMPARE(seqs(sub->records()), range(last + 1, 1000));
        if (last == 999)
            QCOMPARE(sub->events().first().event, QByteArray("ping")); // the tail, right away
        sub->close();
    }
    QVERIFY(QTest::qWaitFor([&] { return m_server->server().subscriberCount() == 0; }, 5000));
}

void TstSse::lastEventIdForms()
{
    m_server->createSession("chat-leid");
    fillOut(QStringLiteral("chat-leid"), 10);
    const QList<QPair<QByteArray, qint64>> cases = {
        {"abc", 0}, {"", 0},    {"0,1,106", 0}, {"5-3", 6}, {" 7 ", 8},
        {"-1", 0},  {"1.5", 0}, {"99", 10},     {"9", 10},
    };
    for (const auto &[value, first] : cases) {
        auto sub =
            subscribe("chat-leid", "out", {{"Last-Event-ID", value}, {"Timeout-Seconds", "1"}});
        QVERIFY(sub->waitFor(
            [&] { return sub->lastTailSeq() == 10 && sub->records().size() >= 10 - first; }, 5000));
        QCOMPARE(seqs(sub->records()), range(first, 10));
    }
}

void TstSse::backlogThenLiveAndIdenticalSubscribers()
{
    m_server->createSession("chat-live");
    auto early = subscribe("chat-live", "out");
    QVERIFY(early->waitForHead());
    for (int i = 0; i < 50; ++i)
        QCOMPARE(m_server->appendOut("chat-live", "early " + QByteArray::number(i)).status, 200);
    QVERIFY(early->waitForRecords(50));
    auto late = subscribe("chat-live", "out"); // connects mid-stream
    QVERIFY(late->waitForRecords(50));
    for (int i = 0; i < 50; ++i)
        QCOMPARE(m_server->appendOut("chat-live", "late " + QByteArray::number(i)).status, 200);
    fillOut(QStringLiteral("chat-live"), 100, 100); // and a burst in one commit
    QVERIFY(early->waitForRecords(200));
    QVERIFY(late->waitForRecords(200));
    QCOMPARE(seqs(late->records()), range(0, 200));
    QCOMPARE(seqs(early->records()), range(0, 200));
    for (int i = 0; i < 200; ++i) {
        QCOMPARE(late->records().at(i).body, early->records().at(i).body);
        QCOMPARE(late->records().at(i).timestamp, early->records().at(i).timestamp);
        if (i > 0)
            QVERIFY(early->records().at(i).timestamp >= early->records().at(i - 1).timestamp);
    }
    QVERIFY(early->errors().isEmpty() && late->errors().isEmpty());
}

void TstSse::timeoutEndsWithDone()
{
    m_server->createSession("chat-timeout");
    QElapsedTimer timer;
    timer.start();
    auto sub = subscribe("chat-timeout", "out", {{"Timeout-Seconds", "1"}});
    QVERIFY(sub->waitForEnd(5000));
    QVERIFY(timer.elapsed() >= 950);
    QVERIFY(timer.elapsed() < 3000);
    QVERIFY(sub->sawDone());
    QCOMPARE(sub->events().last().data, QByteArray("[DONE]"));
    QVERIFY(sub->events().last().event.isEmpty());
}

void TstSse::timeoutHeaderValidation()
{
    m_server->createSession("chat-to");
    auto c = m_server->client();
    const QList<QPair<QByteArray, QByteArray>> bad = {
        {"0", "Timeout seconds must be greater than 0"},
        {"601", "Timeout seconds must be less than 600"},
        {"abc", "Invalid timeout seconds"},
        {"1.5", "Invalid timeout seconds"},
        {"10abc", "Invalid timeout seconds"},
        {"-3", "Timeout seconds must be greater than 0"},
    };
    for (const auto &[value, message] : bad) {
        const HttpResponse r =
            c.get("/realtime/v1/sessions/chat-to/out", {{"Timeout-Seconds", value}});
        QCOMPARE(r.status, 400);
        QCOMPARE(r.body, message);
    }
    auto ok = subscribe("chat-to", "out", {{"Timeout-Seconds", "600"}});
    QVERIFY(ok->waitForHead());
    QCOMPARE(ok->status(), 200);
}

void TstSse::pingsCarryTheTail()
{
    ServerConfig config;
    config.pingIntervalMs = 100;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    m_server->createSession("chat-ping");
    fillOut(QStringLiteral("chat-ping"), 3);
    auto sub = subscribe("chat-ping", "out", {{"Last-Event-ID", "2"}});
    const auto pings = [&] {
        int n = 0;
        for (const auto &e : sub->events())
            n += e.event == "ping";
        return n;
    };
    QVERIFY(sub->waitFor([&] { return pings() >= 4; }, 5000));
    for (const auto &e : sub->events()) {
        QCOMPARE(e.event, QByteArray("ping"));
        const TestJson j = TestJson::parse(e.data.toStdString());
        QVERIFY(j["timestamp"].get<qint64>() > 0);
        QCOMPARE_JSON(j["tail"]["seq_num"], TestJson(3));
    }
}

void TstSse::peekSettled()
{
    m_server->createSession("chat-settled");
    QCOMPARE(m_server->appendOut("chat-settled", "chunk").status, 200);
    // Mid-turn: not settled, so the stream long-polls.
    auto midTurn =
        subscribe("chat-settled", "out", {{"X-Peek-Settled", "1"}, {"Timeout-Seconds", "2"}});
    QVERIFY(midTurn->waitForRecords(1));
    QVERIFY(midTurn->header("x-session-settled").isEmpty());
    QVERIFY(!midTurn->ended());

    QCOMPARE(m_server->appendOut("chat-settled", "", {}, R"([["trigger-control","turn-complete"]])")
                 .status,
             200);
    bool done = false;
    m_server->server().streams().append(QStringLiteral("chat-settled"), Channel::Out,
                                        AppendRecord::trim(1),
                                        [&](const Result<AppendOutcome> &) { done = true; });
    QVERIFY(QTest::qWaitFor([&] { return done; }));
    QElapsedTimer timer;
    timer.start();
    auto settled = subscribe("chat-settled", "out", {{"X-Peek-Settled", "1"}});
    QVERIFY(settled->waitForEnd(5000));
    QVERIFY(timer.elapsed() < 1500); // not the 60 s long poll
    QCOMPARE(settled->header("x-session-settled"), QByteArray("true"));
    QCOMPARE(seqs(settled->records()), QList<qint64>({1, 2}));
    QVERIFY(settled->sawDone());
    // Only on request, and only for .out.
    auto plain = subscribe("chat-settled", "out", {{"Timeout-Seconds", "1"}});
    QVERIFY(plain->waitForRecords(2));
    QVERIFY(plain->header("x-session-settled").isEmpty());
    auto in = subscribe("chat-settled", "in", {{"X-Peek-Settled", "1"}, {"Timeout-Seconds", "1"}});
    QVERIFY(in->waitForHead());
    QVERIFY(in->header("x-session-settled").isEmpty());
}

void TstSse::trimmedRecordsAreNotServed()
{
    m_server->createSession("chat-trim");
    fillOut(QStringLiteral("chat-trim"), 10);
    auto before = subscribe("chat-trim", "out");
    QVERIFY(before->waitForRecords(10));
    bool done = false;
    m_server->server().streams().append(QStringLiteral("chat-trim"), Channel::Out,
                                        AppendRecord::trim(7),
                                        [&](const Result<AppendOutcome> &) { done = true; });
    QVERIFY(QTest::qWaitFor([&] { return done; }));
    QVERIFY(before->waitForRecords(11));
    const SseTestRecord trim = before->records().last();
    QCOMPARE(trim.seq, qint64(10));
    QCOMPARE(trim.headers, QList<TestHeader>({{"", "trim"}}));
    QCOMPARE(trim.body, QByteArray("\0\0\0\0\0\0\0\a", 8));
    // From the start (and from before the trim point): the stream begins at 7.
    for (const QByteArray &leid : {QByteArray(), QByteArray("2")}) {
        auto after = subscribe("chat-trim", "out",
                               leid.isEmpty() ? QList<TestHeader>()
                                              : QList<TestHeader>{{"Last-Event-ID", leid}});
        QVERIFY(after->waitFor(
            [&] { return after->lastTailSeq() == 11 && after->records().size() >= 4; }));
        QCOMPARE(seqs(after->records()), QList<qint64>({7, 8, 9, 10}));
    }
}

void TstSse::subscribeBeforeTheSessionExists()
{
    auto early = subscribe("future-chat", "out");
    QVERIFY(early->waitForHead());
    QCOMPARE(early->status(), 200);
    const TestJson created = m_server->createSession("future-chat");
    QCOMPARE(m_server->appendOut("future-chat", "hello").status, 200);
    QVERIFY(early->waitForRecords(1));
    // By friendly id too, now that the row exists: the same stream.
    auto byId = subscribe(QByteArray::fromStdString(created["id"].get<std::string>()), "out");
    QVERIFY(byId->waitForRecords(1));
    QCOMPARE(byId->records().first().body, early->records().first().body);

    const HttpResponse missing =
        m_server->client().get("/realtime/v1/sessions/session_cnone00000000000000000000/out");
    QCOMPARE(missing.status, 404);
}

void TstSse::disconnectReleasesTheSubscriber()
{
    m_server->createSession("chat-gone");
    QList<std::shared_ptr<SseTestClient>> subs;
    for (int i = 0; i < 5; ++i) {
        subs << std::shared_ptr<SseTestClient>(subscribe("chat-gone", "out").release());
        QVERIFY(subs.last()->waitForHead());
    }
    QCOMPARE(m_server->server().subscriberCount(), 5);
    for (auto &s : subs)
        s->close();
    QVERIFY(QTest::qWaitFor([&] { return m_server->server().subscriberCount() == 0; }, 5000));
    QVERIFY(QTest::qWaitFor([&] { return m_server->server().connectionCount() == 0; }, 5000));
    // Appends after the clients left are fine.
    QCOMPARE(m_server->appendOut("chat-gone", "x").status, 200);
}

void TstSse::connectionIsReusableAfterTheStream()
{
    m_server->createSession("chat-reuse");
    fillOut(QStringLiteral("chat-reuse"), 2);
    auto c = m_server->client();
    QByteArray raw = c.requestBytes("GET", "/realtime/v1/sessions/chat-reuse/out", {},
                                    {{"Timeout-Seconds", "1"}});
    raw += c.requestBytes("GET", "/api/v1/sessions/chat-reuse", {}, {});
    const QList<HttpResponse> out = c.raw(raw, 2, {}, 5000);
    QCOMPARE(out.at(0).status, 200);
    QVERIFY(out.at(0).body.endsWith("data: [DONE]\n\n"));
    QCOMPARE(out.at(1).status, 200);
    QCOMPARE(out.at(1).json()["externalId"].get<std::string>(), std::string("chat-reuse"));
}

void TstSse::networkAccessManagerReadsIt()
{
    m_server->createSession("chat-qnam");
    fillOut(QStringLiteral("chat-qnam"), 5);
    QNetworkAccessManager nam;
    QUrl url = m_server->base();
    url.setPath(QStringLiteral("/realtime/v1/sessions/chat-qnam/out"));
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", secretAuth());
    request.setRawHeader("Accept", "text/event-stream");
    request.setRawHeader("Timeout-Seconds", "1");
    QNetworkReply *reply = nam.get(request);
    QByteArray received;
    connect(reply, &QNetworkReply::readyRead, this, [&] { received += reply->readAll(); });
    QVERIFY(QTest::qWaitFor([&] { return reply->isFinished(); }, 5000));
    received += reply->readAll();
    QCOMPARE(reply->error(), QNetworkReply::NoError);
    QCOMPARE(reply->rawHeader("X-Stream-Version"), QByteArray("v2"));
    QCOMPARE(received.count("event: batch"), 1);
    QVERIFY(received.contains("\"seq_num\":4"));
    QVERIFY(received.endsWith("data: [DONE]\n\n"));
    reply->deleteLater();
}

void TstSse::backlogBeyondTheMemoryWindow()
{
    m_server->createSession("chat-deep");
    for (int i = 0; i < 6; ++i)
        fillOut(QStringLiteral("chat-deep"), 500, i * 500);
    QVERIFY(m_server->restart()); // a cold stream: everything comes from SQLite
    auto sub = subscribe("chat-deep", "out");
    QVERIFY(sub->waitForRecords(3000, 20000));
    QCOMPARE(seqs(sub->records()), range(0, 3000));
    QCOMPARE(sub->records().at(2999).body,
             QByteArray(R"({"data":{"delta":"2999","type":"text-delta"},"id":"p2999"})"));
    // S2's batch limit: no batch holds more than 1000 records.
    for (const auto &e : sub->events()) {
        if (e.event == "batch")
            QVERIFY(TestJson::parse(e.data.toStdString())["records"].size() <= 1000);
    }
}

void TstSse::fanOutToManySubscribers()
{
    m_server->createSession("chat-fan");
    QList<std::shared_ptr<SseTestClient>> subs;
    for (int i = 0; i < 50; ++i)
        subs << std::shared_ptr<SseTestClient>(subscribe("chat-fan", "out").release());
    QVERIFY(QTest::qWaitFor([&] { return m_server->server().subscriberCount() == 50; }, 5000));
    for (int i = 0; i < 200; ++i) {
        fillOut(QStringLiteral("chat-fan"), 1, i);
        QCoreApplication::processEvents();
    }
    for (auto &s : subs)
        QVERIFY(s->waitForRecords(200));
    for (auto &s : subs) {
        QCOMPARE(seqs(s->records()), range(0, 200));
        QCOMPARE(s->records().at(199).body, subs.first()->records().at(199).body);
    }
}

QTEST_GUILESS_MAIN(TstSse)
#include "tst_sse.moc"
