// .in/.out append, the records drain, trim, continuation runs, rate limits.

#include "httptestclient.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"
#include "testserver.h"

#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

constexpr auto s = &jsonString;

TestJson records(TestServer &server, const QByteArray &key, const QByteArray &io,
                 const QByteArray &query = {})
{
    const HttpResponse r =
        server.client().get("/realtime/v1/sessions/" + key + "/" + io + "/records" + query);
    if (r.status != 200)
        qWarning("records: %d %s", r.status, r.body.constData());
    return r.json()["records"];
}

} // namespace

class TstChannels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void appendAnswersSeqOnBothUrlForms();
    void partIdIsIdempotentAcrossRestart();
    void partIdValidation();
    void bodyCaps();
    void closedExpiredAndMissing();
    void outNeedsSecretKey();
    void rawRecordsExtension();
    void recordsDrainShape();
    void trimIsHonouredAndKept();
    void seqMonotonicAcrossRuns();
    void webhookActionSourceIsStripped();
    void inProcessAppendAndSignal();
    void rateLimit();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstChannels::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void TstChannels::cleanup()
{
    m_server.reset();
}

void TstChannels::appendAnswersSeqOnBothUrlForms()
{
    const TestJson created = m_server->createSession("chat-a");
    const QByteArray friendly = s(created, "id");
    for (int i = 0; i < 3; ++i) {
        const HttpResponse r =
            m_server->appendIn(i % 2 ? QString::fromUtf8(friendly) : QStringLiteral("chat-a"),
                               QByteArray("msg ") + QByteArray::number(i));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("{\"ok\":true,\"seq\":") + QByteArray::number(i) + "}");
    }
    // .out has its own seq space.
    QCOMPARE(m_server->appendOut("chat-a", "{}").json()["seq"].get<int>(), 0);
    QCOMPARE(records(*m_server, friendly, "in").size(), size_t(3));
    QCOMPARE(records(*m_server, "chat-a", "in").size(), size_t(3));
    // A session without an externalId is addressed by its friendly id.
    const TestJson bare = m_server->createSession();
    QCOMPARE(m_server->appendIn(QString::fromUtf8(s(bare, "id")), "x").status, 200);
    QCOMPARE(m_server->client().post("/realtime/v1/sessions/chat-a/sideways/append", "x").status,
             400);
}

void TstChannels::partIdIsIdempotentAcrossRestart()
{
    m_server->createSession("chat-idem");
    QCOMPARE(m_server->appendIn("chat-idem", "first", "part-1").json()["seq"].get<int>(), 0);
    QCOMPARE(m_server->appendIn("chat-idem", "second", "part-2").json()["seq"].get<int>(), 1);
    HttpResponse again = m_server->appendIn("chat-idem", "first, retried", "part-1");
    QCOMPARE(again.status, 200);
    QCOMPARE_JSON(again.json(), TestJson({{"ok", true}, {"seq", 0}}));
    QVERIFY(m_server->restart());
    again = m_server->appendIn("chat-idem", "second, retried after restart", "part-2");
    QCOMPARE_JSON(again.json(), TestJson({{"ok", true}, {"seq", 1}}));
    QCOMPARE(m_server->appendIn("chat-idem", "third", "part-3").json()["seq"].get<int>(), 2);
    const TestJson recs = records(*m_server, "chat-idem", "in");
    QCOMPARE(recs.size(), size_t(3));
    QCOMPARE_JSON(recs[0]["data"], TestJson("first"));
    QCOMPARE_JSON(recs[0]["id"], TestJson("part-1"));
    QCOMPARE_JSON(recs[1]["data"], TestJson("second"));
    // Part ids are per stream: the same id on .out is a new record.
    QCOMPARE(m_server->appendOut("chat-idem", "x", "part-1").json()["seq"].get<int>(), 0);
    // Without X-Part-Id the server makes a 7-character id.
    QCOMPARE(m_server->appendIn("chat-idem", "no id").status, 200);
    QCOMPARE(records(*m_server, "chat-idem", "in")[3]["id"].get<std::string>().size(), size_t(7));
}

void TstChannels::partIdValidation()
{
    m_server->createSession("chat-pid");
    QCOMPARE(m_server->appendIn("chat-pid", "x", QByteArray(64, 'p')).status, 200);
    const HttpResponse r = m_server->appendIn("chat-pid", "x", QByteArray(65, 'p'));
    QCOMPARE(r.status, 400);
    QCOMPARE_JSON(r.json()["ok"], TestJson(false));
    QCOMPARE(m_server->appendIn("chat-pid", "x", "has space").status, 400);
}

void TstChannels::bodyCaps()
{
    m_server->createSession("chat-big");
    HttpResponse r = m_server->appendIn("chat-big", QByteArray(1024 * 1024 + 1, 'a'));
    QCOMPARE(r.status, 413);
    QCOMPARE_JSON(r.json(), TestJson({{"ok", false}, {"error", "Request body too large"}}));
    // Under the body cap, but every quote doubles when wrapped: over S2's record limit.
    r = m_server->appendIn("chat-big", QByteArray(600 * 1024, '"'));
    QCOMPARE(r.status, 413);
    QVERIFY(s(r.json(), "error").startsWith("Record metered size"));
    QCOMPARE_JSON(r.json()["ok"], TestJson(false));
    // The largest plain body that fits: 8 + len({"data":"...","id":"xxxxxxx"}) <= 1 MiB.
    const int overhead = 8 + int(QByteArray(R"({"data":"","id":"p"})").size());
    QCOMPARE(m_server->appendIn("chat-big", QByteArray(1024 * 1024 - overhead, 'b'), "p").status,
             200);
    QCOMPARE(
        m_server->appendIn("chat-big", QByteArray(1024 * 1024 - overhead + 1, 'b'), "q").status,
        413);
    QCOMPARE(records(*m_server, "chat-big", "in").size(), size_t(1));
}

void TstChannels::closedExpiredAndMissing()
{
    m_server->createSession("chat-closed");
    QCOMPARE(m_server->client().post("/api/v1/sessions/chat-closed/close", "{}").status, 200);
    HttpResponse r = m_server->appendIn("chat-closed", "x");
    QCOMPARE(r.status, 400);
    QCOMPARE_JSON(r.json(),
                  TestJson({{"ok", false}, {"error", "Cannot append to a closed session"}}));

    m_server->createSession("chat-exp", {{"expiresAt", QDateTime::currentMSecsSinceEpoch() + 200}});
    QCOMPARE(m_server->appendIn("chat-exp", "x").status, 200);
    QTest::qWait(300);
    r = m_server->appendIn("chat-exp", "x");
    QCOMPARE(r.status, 400);
    QCOMPARE_JSON(r.json(),
                  TestJson({{"ok", false}, {"error", "Cannot append to an expired session"}}));

    r = m_server->appendIn("no-such-chat", "x");
    QCOMPARE(r.status, 404);
    QCOMPARE(m_server->appendIn("session_cnotthere000000000000000000", "x").status, 404);
    QCOMPARE(m_server->client()
                 .get("/realtime/v1/sessions/session_cnotthere000000000000000000/in/records")
                 .status,
             404);
    // Reading a chat id that has no session yet is allowed (and empty).
    QCOMPARE(records(*m_server, "future-chat", "out").size(), size_t(0));
}

void TstChannels::outNeedsSecretKey()
{
    const TestJson created = m_server->createSession("chat-out");
    HttpTestClient pat(m_server->base(), s(created, "publicAccessToken"));
    HttpResponse r = pat.post("/realtime/v1/sessions/chat-out/out/append", "forged");
    QCOMPARE(r.status, 403);
    QCOMPARE_JSON(
        r.json(),
        TestJson({{"ok", false},
                  {"error", "Appending to the out channel requires secret key authentication"}}));
    QCOMPARE(pat.post("/realtime/v1/sessions/chat-out/in/append", "hi").status, 200);
    QCOMPARE(m_server->appendOut("chat-out", "real").status, 200);
    QCOMPARE(records(*m_server, "chat-out", "out").size(), size_t(1));
    // PUT (initialize) has no S2 behind it; a token may not even ask for .out.
    QCOMPARE(pat.request("PUT", "/realtime/v1/sessions/chat-out/out").status, 403);
    QCOMPARE(m_server->client().request("PUT", "/realtime/v1/sessions/chat-out/out").status, 501);
}

void TstChannels::rawRecordsExtension()
{
    const TestJson created = m_server->createSession("chat-raw");
    HttpResponse r = m_server->appendOut(
        "chat-raw", "", {}, R"([["trigger-control","turn-complete"],["session-in-event-id","4"]])");
    QCOMPARE(r.status, 200);
    r = m_server->appendOut("chat-raw", R"({"data":{"type":"text-delta","delta":"hi"},"id":"p9"})",
                            {}, "[]");
    QCOMPARE(r.status, 200);
    const TestJson recs = records(*m_server, "chat-raw", "out");
    QCOMPARE(recs.size(), size_t(2));
    QCOMPARE_JSON(recs[0],
                  TestJson({{"data", ""},
                            {"id", ""},
                            {"seqNum", 0},
                            {"headers",
                             TestJson::array({TestJson::array({"trigger-control", "turn-complete"}),
                                              TestJson::array({"session-in-event-id", "4"})})}}));
    QCOMPARE_JSON(recs[1]["data"], TestJson({{"type", "text-delta"}, {"delta", "hi"}}));
    QCOMPARE_JSON(recs[1]["id"], TestJson("p9"));

    HttpTestClient pat(m_server->base(), s(created, "publicAccessToken"));
    QCOMPARE(pat.post("/realtime/v1/sessions/chat-raw/in/append", "", {{"X-Record-Headers", "[]"}})
                 .status,
             403);
    QCOMPARE(m_server->appendOut("chat-raw", "", {}, "not json").status, 400);
    QCOMPARE(m_server->appendOut("chat-raw", "", {}, R"([["a"]])").status, 400);
}

void TstChannels::recordsDrainShape()
{
    m_server->createSession("chat-rec");
    const QByteArray message =
        R"({"kind":"message","payload":{"chatId":"chat-rec","trigger":"submit-message"}})";
    QCOMPARE(m_server->appendIn("chat-rec", message, "m1").status, 200);
    QCOMPARE(m_server->appendIn("chat-rec", R"({"kind":"stop"})", "m2").status, 200);
    QCOMPARE(m_server->appendIn("chat-rec", "\xff not utf-8", "m3").status, 200);
    const TestJson all = records(*m_server, "chat-rec", "in");
    QCOMPARE(all.size(), size_t(3));
    // .in stores the appended text as a string inside the record.
    QCOMPARE_JSON(all[0], TestJson({{"data", message.toStdString()},
                                    {"id", "m1"},
                                    {"seqNum", 0},
                                    {"headers", TestJson::array()}}));
    QCOMPARE_JSON(all[2]["data"], TestJson("\xef\xbf\xbd not utf-8"));
    const TestJson after = records(*m_server, "chat-rec", "in", "?afterEventId=0");
    QCOMPARE(after.size(), size_t(2));
    QCOMPARE_JSON(after[0]["seqNum"], TestJson(1));
    QCOMPARE(records(*m_server, "chat-rec", "in", "?afterEventId=2").size(), size_t(0));
    QCOMPARE(records(*m_server, "chat-rec", "in", "?afterEventId=99").size(), size_t(0));
    for (const QByteArray &bad :
         {QByteArray("abc"), QByteArray("-1"), QByteArray("1.5"), QByteArray("")}) {
        const HttpResponse r =
            m_server->client().get("/realtime/v1/sessions/chat-rec/in/records?afterEventId=" + bad);
        QCOMPARE(r.status, 400);
        QCOMPARE(s(r.json(), "error"), QByteArray("Query Error"));
    }
}

void TstChannels::trimIsHonouredAndKept()
{
    m_server->createSession("chat-trim");
    for (int i = 0; i < 10; ++i)
        QCOMPARE(m_server->appendOut("chat-trim", QByteArray::number(i)).status, 200);
    // A trim command to seq 6 (8-byte big-endian body), appended in-process as the agent does.
    bool done = false;
    m_server->server().streams().append(QStringLiteral("chat-trim"), Channel::Out,
                                        AppendRecord::trim(6), [&](const Result<AppendOutcome> &r) {
                                            QVERIFY(r.ok());
                                            QCOMPARE(r->seq, qint64(10));
                                            done = true;
                                        });
    QVERIFY(QTest::qWaitFor([&] { return done; }, 5000));
    TestJson recs = records(*m_server, "chat-trim", "out");
    QCOMPARE(recs.size(), size_t(4)); // 6..9; the command itself is not data
    QCOMPARE_JSON(recs[0]["seqNum"], TestJson(6));
    QCOMPARE(records(*m_server, "chat-trim", "out", "?afterEventId=2").size(), size_t(4));
    // A trim beyond its own position stops at itself; a lower one changes nothing.
    QCOMPARE(m_server->appendOut("chat-trim", "", {}, R"([["","trim"]])").status,
             200); // not 8 bytes: inert
    QVERIFY(m_server->restart());
    recs = records(*m_server, "chat-trim", "out");
    QCOMPARE(recs.size(), size_t(4));
    QCOMPARE(m_server->appendOut("chat-trim", "11").json()["seq"].get<int>(), 12);
    auto stream = m_server->server().streams().stream(QStringLiteral("chat-trim"), Channel::Out);
    QCOMPARE((*stream)->trimSeq(), qint64(6));
    QCOMPARE((*stream)->nextSeq(), qint64(13));
}

void TstChannels::seqMonotonicAcrossRuns()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession("chat-seq");
    QCOMPARE(m_server->appendIn("chat-seq", "a").json()["seq"].get<int>(), 0);
    const TestJson swap = c.postJson("/api/v1/sessions/chat-seq/end-and-continue",
                                     {{"callingRunId", created["runId"]}, {"reason", "upgrade"}})
                              .json();
    QCOMPARE(m_server->appendIn("chat-seq", "b").json()["seq"].get<int>(), 1);
    // The run ends; the next append starts a continuation run before the record lands.
    QVERIFY(m_server->server()
                .sessions()
                .setRunStatus(QString::fromUtf8(s(swap, "runId")), QStringLiteral("COMPLETED"))
                .ok());
    QSignalSpy started(&m_server->server().sessions(), &SessionService::runStarted);
    QCOMPARE(m_server->appendIn("chat-seq", "c").json()["seq"].get<int>(), 2);
    QCOMPARE(started.size(), 1);
    QCOMPARE(started.first().at(3).toString(), QString::fromUtf8(s(swap, "runId")));
    const TestJson audit = c.get("/api/v1/sessions/chat-seq/runs").json()["data"];
    QCOMPARE(audit.size(), size_t(3));
    QCOMPARE_JSON(audit[0]["reason"], TestJson("continuation"));
    // A live run is reused: no new run on the next append.
    QCOMPARE(m_server->appendIn("chat-seq", "d").json()["seq"].get<int>(), 3);
    QCOMPARE(started.size(), 1);
}

void TstChannels::webhookActionSourceIsStripped()
{
    m_server->createSession("chat-hook");
    QCOMPARE(
        m_server
            ->appendIn(
                "chat-hook",
                R"({"kind":"message","payload":{"trigger":"action","actionSource":"webhook","chatId":"x"}})")
            .status,
        200);
    QCOMPARE(
        m_server->appendIn("chat-hook", R"({"kind":"message","payload":{"actionSource":"client"}})")
            .status,
        200);
    const TestJson recs = records(*m_server, "chat-hook", "in");
    QCOMPARE_JSON(recs[0]["data"],
                  TestJson(R"({"kind":"message","payload":{"trigger":"action","chatId":"x"}})"));
    QCOMPARE_JSON(recs[1]["data"],
                  TestJson(R"({"kind":"message","payload":{"actionSource":"client"}})"));
}

void TstChannels::inProcessAppendAndSignal()
{
    m_server->createSession("chat-proc");
    StreamStore &streams = m_server->server().streams();
    QSignalSpy spy(&streams, &StreamStore::recordsAppended);
    QCOMPARE(m_server->appendIn("chat-proc", "over http").status, 200);
    QCOMPARE(spy.size(), 1);
    QCOMPARE(spy.first().at(0).toString(), QStringLiteral("chat-proc"));
    QCOMPARE(spy.first().at(1).value<Channel>(), Channel::In);
    const auto recs = spy.first().at(2).value<QList<StreamRecord>>();
    QCOMPARE(recs.size(), 1);
    QCOMPARE(recs.first().seqNum, qint64(0));

    int acked = 0;
    streams.append(
        QStringLiteral("chat-proc"), Channel::Out,
        AppendRecord::data(QJsonObject{{"type", "text-delta"}, {"delta", "yo"}}, "agent-1"),
        [&](const Result<AppendOutcome> &r) { acked += r.ok(); });
    streams.append(QStringLiteral("chat-proc"), Channel::Out,
                   AppendRecord::control("turn-complete", {{"session-in-event-id", "0"}}),
                   [&](const Result<AppendOutcome> &r) { acked += r.ok(); });
    streams.flush();
    QCOMPARE(acked, 2);
    const TestJson out = records(*m_server, "chat-proc", "out");
    QCOMPARE_JSON(out[0]["data"], TestJson({{"delta", "yo"}, {"type", "text-delta"}}));
    QCOMPARE_JSON(out[0]["id"], TestJson("agent-1"));
    QCOMPARE_JSON(out[1]["headers"],
                  TestJson::array({TestJson::array({"trigger-control", "turn-complete"}),
                                   TestJson::array({"session-in-event-id", "0"})}));
    auto read = streams.read(QStringLiteral("chat-proc"), Channel::Out, 0, 10);
    QVERIFY(read.ok());
    QCOMPARE(read->size(), 2);
    QCOMPARE(read->at(1).record.kind, RecordKind::Control);
    QCOMPARE(read->at(1).record.subtype(), QByteArray("turn-complete"));
}

void TstChannels::rateLimit()
{
    ServerConfig config;
    config.rateLimitPerSecond = 5;
    config.rateLimitBurst = 5;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    const TestJson created = m_server->createSession("chat-rl"); // 1 token used
    for (int i = 0; i < 4; ++i) {
        const HttpResponse r = m_server->appendIn("chat-rl", "x", "rl-" + QByteArray::number(i));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("x-ratelimit-limit"), QByteArray("5"));
    }
    const HttpResponse limited = m_server->appendIn("chat-rl", "x", "rl-4");
    QCOMPARE(limited.status, 429);
    QCOMPARE(limited.header("x-ratelimit-limit"), QByteArray("5"));
    QCOMPARE(limited.header("x-ratelimit-remaining"), QByteArray("0"));
    const qint64 reset = limited.header("x-ratelimit-reset").toLongLong();
    QVERIFY(reset > QDateTime::currentMSecsSinceEpoch() - 50);
    QVERIFY(reset < QDateTime::currentMSecsSinceEpoch() + 1000);
    QCOMPARE(limited.header("content-type"), QByteArray("application/problem+json"));
    QCOMPARE_JSON(limited.json()["status"], TestJson(429));
    // Another credential has its own bucket.
    HttpTestClient pat(m_server->base(), s(created, "publicAccessToken"));
    QCOMPARE(pat.post("/realtime/v1/sessions/chat-rl/in/append", "y").status, 200);
    // After the reset the same part id goes through, once.
    QTest::qWait(int(qMax<qint64>(0, reset - QDateTime::currentMSecsSinceEpoch()) + 20));
    const HttpResponse retried = m_server->appendIn("chat-rl", "x", "rl-4");
    QCOMPARE(retried.status, 200);
    const TestJson recs = pat.get("/realtime/v1/sessions/chat-rl/in/records").json()["records"];
    QCOMPARE(recs.size(), size_t(6));
}

QTEST_GUILESS_MAIN(TstChannels)
#include "tst_channels.moc"
