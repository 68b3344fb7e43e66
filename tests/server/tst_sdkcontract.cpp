// Where the official SDK (@trigger.dev/sdk + core 4.8.3, driven for real in
// tests/conformance) disagreed with this server, the SDK won; these are those
// cases at the protocol level, so they hold without Node too.

#include "httptestclient.h"
#include "server/tokenservice.h"
#include "ssetestclient.h"
#include "testserver.h"

#include <QDateTime>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::test;

class TstSdkContract : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void triggerConfigKeepsTheSchemasKeys();
    void triggerConfigRefusesWhatTheSchemaRefuses_data();
    void triggerConfigRefusesWhatTheSchemaRefuses();
    void jwtClaimsForSelfSignedTokens();
    void streamStartLatest();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstSdkContract::init()
{
    ServerConfig config;
    config.agentRuntime = false;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
}

void TstSdkContract::cleanup()
{
    m_server.reset();
}

void TstSdkContract::triggerConfigKeepsTheSchemasKeys()
{
    // SessionTriggerConfig's keys in its order; unknown keys are still dropped.
    TestJson config = {{"bogus", true},
                       {"ttl", "10m"},
                       {"region", "eu"},
                       {"externalDeploymentId", "  commit-abc  "},
                       {"lockToVersion", "20261121.1"},
                       {"tags", {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
                       {"concurrencyKey", 42},
                       {"concurrency", {"llm", "tenant_a-1"}},
                       {"queue", "q"},
                       {"machine", "micro"},
                       {"basePayload", {{"chatId", "c"}}}};
    const HttpResponse created = m_server->client().postJson(
        "/api/v1/sessions", TestServer::sessionBody("sdk-config", {{"triggerConfig", config}}));
    QCOMPARE(created.status, 201);
    const TestJson expected = {{"basePayload", {{"chatId", "c"}}},
                               {"machine", "micro"},
                               {"queue", "q"},
                               {"concurrency", {"llm", "tenant_a-1"}},
                               {"concurrencyKey", "42"},
                               {"tags", {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
                               {"lockToVersion", "20261121.1"},
                               {"externalDeploymentId", "commit-abc"},
                               {"region", "eu"},
                               {"ttl", "10m"}};
    QCOMPARE_JSON(created.json()["triggerConfig"], expected);
    QCOMPARE(QByteArray::fromStdString(created.json()["triggerConfig"].dump()),
             QByteArray::fromStdString(expected.dump()));
    const HttpResponse read = m_server->client().get("/api/v1/sessions/sdk-config");
    QCOMPARE_JSON(read.json()["triggerConfig"], expected);

    // null is the SDK's opt-out and blank means absent; a number ttl stays a number.
    for (const TestJson &optOut : {TestJson(nullptr), TestJson("   ")}) {
        const HttpResponse r = m_server->client().postJson(
            "/api/v1/sessions", TestServer::sessionBody({}, {{"triggerConfig",
                                                              {{"basePayload", TestJson::object()},
                                                               {"externalDeploymentId", optOut},
                                                               {"ttl", 300}}}}));
        QCOMPARE(r.status, 201);
        QVERIFY(!r.json()["triggerConfig"].contains("externalDeploymentId"));
        QCOMPARE_JSON(r.json()["triggerConfig"]["ttl"], TestJson(300));
    }
}

void TstSdkContract::triggerConfigRefusesWhatTheSchemaRefuses_data()
{
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<QByteArray>("problem");
    QTest::newRow("11 tags") << QByteArray(
                                    R"("tags":["1","2","3","4","5","6","7","8","9","10","11"])")
                             << QByteArray("at most 10 element(s) at \"triggerConfig.tags\"");
    QTest::newRow("3 concurrency limits")
        << QByteArray(R"("concurrency":["a","b","c"])")
        << QByteArray("at most 2 element(s) at \"triggerConfig.concurrency\"");
    QTest::newRow("limit name with a dot")
        << QByteArray(R"("concurrency":["a.b"])")
        << QByteArray("Concurrency limit names are 1-122 characters");
    QTest::newRow("concurrencyKey object") << QByteArray(R"("concurrencyKey":{})")
                                           << QByteArray("at \"triggerConfig.concurrencyKey\"");
    QTest::newRow("externalDeploymentId 129")
        << QByteArray(R"("externalDeploymentId":")" + QByteArray(129, 'd') + '"')
        << QByteArray("at \"triggerConfig.externalDeploymentId\"");
    QTest::newRow("externalDeploymentId number")
        << QByteArray(R"("externalDeploymentId":7)")
        << QByteArray("Expected string, received number at \"triggerConfig.externalDeploymentId\"");
    QTest::newRow("ttl negative") << QByteArray(R"("ttl":-1)")
                                  << QByteArray("at \"triggerConfig.ttl\"");
    QTest::newRow("ttl fraction") << QByteArray(R"("ttl":1.5)")
                                  << QByteArray("at \"triggerConfig.ttl\"");
    QTest::newRow("ttl boolean") << QByteArray(R"("ttl":true)")
                                 << QByteArray("at \"triggerConfig.ttl\"");
}

void TstSdkContract::triggerConfigRefusesWhatTheSchemaRefuses()
{
    QFETCH(QByteArray, config);
    QFETCH(QByteArray, problem);
    const QByteArray body = R"({"type":"chat.agent","externalId":"sdk-bad","taskIdentifier":"t",)"
                            R"("triggerConfig":{"basePayload":{},)" +
                            config + "}}";
    const HttpResponse r = m_server->client().post("/api/v1/sessions", body);
    QCOMPARE(r.status, 400);
    QVERIFY2(jsonString(r.json(), "error").contains(problem), r.body.constData());
    QCOMPARE(m_server->client().get("/api/v1/sessions/sdk-bad").status, 404);
}

void TstSdkContract::jwtClaimsForSelfSignedTokens()
{
    // auth.createPublicToken() posts here, then signs {claims, scopes} with the
    // secret key itself; that token must work like one the server minted.
    const HttpResponse claims = m_server->client().post("/api/v1/auth/jwt/claims", {});
    QCOMPARE(claims.status, 200);
    QCOMPARE_JSON(claims.json(), TestJson({{"sub", "env_sessionscope"}, {"pub", true}}));

    m_server->createSession("sdk-signed");
    TestJson payload = claims.json();
    payload["scopes"] = {"read:sessions:sdk-signed"};
    payload["iss"] = TokenService::Issuer;
    payload["aud"] = TokenService::Audience;
    payload["exp"] = QDateTime::currentSecsSinceEpoch() + 900;
    payload["iat"] = QDateTime::currentSecsSinceEpoch();
    const QByteArray token = TokenService::sign(
        R"({"alg":"HS256"})", QByteArray::fromStdString(payload.dump()), TestServer::SecretKey);
    QCOMPARE(m_server->client(token).get("/api/v1/sessions/sdk-signed").status, 200);
    QCOMPARE(
        m_server->client(token).post("/realtime/v1/sessions/sdk-signed/in/append", "{}").status,
        403);

    // Only the secret key may ask: a public token cannot vouch for an environment.
    QCOMPARE(m_server->client(token).post("/api/v1/auth/jwt/claims", {}).status, 401);
    QCOMPARE(m_server->anonymous().post("/api/v1/auth/jwt/claims", {}).status, 401);
    QCOMPARE(m_server->client().get("/api/v1/auth/jwt/claims").status, 405);
}

void TstSdkContract::streamStartLatest()
{
    // SSEStreamSubscription({from: "latest"}) sends X-Trigger-Stream-Start:
    // latest when it has no Last-Event-ID: only records appended after it
    // connected. A Last-Event-ID wins.
    m_server->createSession("sdk-latest");
    for (int i = 0; i < 3; ++i)
        QCOMPARE(
            m_server->appendIn("sdk-latest", R"({"kind":"stop"})", "old" + QByteArray::number(i))
                .status,
            200);
    const QByteArray auth = "Bearer " + QByteArray(TestServer::SecretKey);
    SseTestClient latest(
        m_server->base(), "/realtime/v1/sessions/sdk-latest/in",
        {{"Authorization", auth}, {"X-Trigger-Stream-Start", "latest"}, {"Timeout-Seconds", "5"}});
    latest.open();
    QVERIFY(latest.waitForHead());
    QVERIFY(latest.waitFor([&] { return latest.lastTailSeq().has_value(); }));
    QCOMPARE(*latest.lastTailSeq(), qint64(3));
    QCOMPARE(m_server->appendIn("sdk-latest", R"({"kind":"stop"})", "new").status, 200);
    QVERIFY(latest.waitForRecords(1));
    QCOMPARE(latest.records().size(), 1);
    QCOMPARE(latest.records().first().seq, qint64(3));

    SseTestClient resumed(m_server->base(), "/realtime/v1/sessions/sdk-latest/in",
                          {{"Authorization", auth},
                           {"X-Trigger-Stream-Start", "latest"},
                           {"Last-Event-ID", "0"},
                           {"Timeout-Seconds", "1"}});
    resumed.open();
    QVERIFY(resumed.waitForEnd());
    QList<qint64> seqs;
    for (const auto &r : resumed.records())
        seqs << r.seq;
    QCOMPARE(seqs, (QList<qint64>{1, 2, 3}));
}

QTEST_GUILESS_MAIN(TstSdkContract)
#include "tst_sdkcontract.moc"
