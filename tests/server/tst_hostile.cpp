// Hostile input against the real server on loopback: malformed and oversized
// bodies, wrong types, forged and misused tokens, ids that try to escape their
// path segment, absurd SSE cursors and timeouts, header floods, slowloris
// clients and a thousand idle SSE connections. Every refusal must be the
// documented status with an error body, the server must keep serving, and
// nothing it stores may change.

#include "httptestclient.h"
#include "server/tokenservice.h"
#include "server/wirejson.h"
#include "ssetestclient.h"
#include "testserver.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <sys/resource.h>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

enum class Answer : quint8 {
    JsonError, // {"error": "..."} (appends add "ok": false)
    TextError, // the realtime routes' text/plain refusals, worded as the webapp's
};

struct Claims
{
    QStringList scopes;
    qint64 expOffset = 3600; // seconds from now
    QByteArray iss = TokenService::Issuer;
    QByteArray sub = "env_sessionscope";
    bool pub = true;
    std::optional<qint64> nbfOffset;
};

QByteArray claimsJson(const Claims &c)
{
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    TestJson j = {{"sub", c.sub.toStdString()}, {"pub", c.pub}, {"scopes", TestJson::array()}};
    for (const QString &s : c.scopes)
        j["scopes"].push_back(s.toStdString());
    j["iss"] = c.iss.toStdString();
    j["aud"] = TokenService::Audience;
    j["exp"] = now + c.expOffset;
    j["iat"] = now;
    if (c.nbfOffset)
        j["nbf"] = now + *c.nbfOffset;
    return QByteArray::fromStdString(j.dump());
}

QByteArray bearer(const QByteArray &credential)
{
    return "Bearer " + credential;
}

QByteArray nested(int depth)
{
    return QByteArray(depth, '[') + QByteArray(depth, ']');
}

QByteArray sessionBody(const QByteArray &fields)
{
    return R"({"type":"chat.agent","taskIdentifier":"hostile","triggerConfig":{"basePayload":{}})" +
           (fields.isEmpty() ? QByteArray() : "," + fields) + "}";
}

constexpr int kIdleStreams = 1000;

} // namespace

class TstHostile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void refused_data();
    void refused();
    void sseCursors_data();
    void sseCursors();
    void notHttp();
    void nestingDepth();
    void slowlorisDoesNotStarveOthers();
    void idleSseConnectionsDoNotStarveOthers();

private:
    // Everything a client can read back: the session list, both streams of
    // the fixtures, the run audit.
    QByteArray snapshot() const;
    // A plain request that must succeed quickly: the server is still serving.
    void verifyServing(int withinMs = 2000) const;
    // While something hostile goes on: `requests` reads, then a new session
    // `key` whose append reaches a new subscriber, all within `budgetMs`.
    void serveOthers(const QByteArray &key, int requests, qint64 budgetMs);
    void refuse(const char *name, const QByteArray &method, const QByteArray &path,
                const QByteArray &body, const QList<TestHeader> &headers, int status,
                Answer answer = Answer::JsonError, const QString &errorContains = {});

    std::unique_ptr<TestServer> m_server;
    QByteArray m_secret;
    QByteArray m_tokenA; // the session token of hostile-a
    QByteArray m_tokenB;
    QByteArray m_idA;
    QByteArray m_runB;
    QByteArray m_before;
};

void TstHostile::initTestCase()
{
    // 1,000 in-process SSE connections hold two descriptors each.
    rlimit limit{};
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &limit), 0);
    const rlim_t wanted = 4096;
    if (limit.rlim_cur < wanted && limit.rlim_cur != RLIM_INFINITY) {
        limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : qMin(wanted, limit.rlim_max);
        QCOMPARE(setrlimit(RLIMIT_NOFILE, &limit), 0);
    }

    ServerConfig config;
    // No agent: nothing but the requests below writes to the streams.
    config.agentRuntime = false;
    m_server = std::make_unique<TestServer>(config);
    QVERIFY(m_server->start());
    m_secret = TestServer::SecretKey;

    const TestJson a = m_server->createSession("hostile-a");
    const TestJson b = m_server->createSession("hostile-b");
    m_server->createSession("hostile-closed");
    m_tokenA = jsonString(a, "publicAccessToken");
    m_tokenB = jsonString(b, "publicAccessToken");
    m_idA = jsonString(a, "id");
    m_runB = jsonString(b, "runId");
    QVERIFY(!m_tokenA.isEmpty() && !m_tokenB.isEmpty() && !m_runB.isEmpty());
    QCOMPARE(
        m_server->appendIn("hostile-a", R"({"kind":"message","payload":{"chatId":"a"}})", "in-0")
            .status,
        200);
    QCOMPARE(m_server->appendIn("hostile-a", R"({"kind":"stop"})", "in-1").status, 200);
    QCOMPARE(m_server->appendOut("hostile-a", R"({"data":{"type":"start"},"id":"o0"})", "o0", "[]")
                 .status,
             200);
    QCOMPARE(m_server->appendOut("hostile-a", R"({"data":{"type":"finish"},"id":"o1"})", "o1", "[]")
                 .status,
             200);
    QCOMPARE(m_server
                 ->appendOut("hostile-a", "", "o2",
                             R"([["trigger-control","turn-complete"],["session-in-event-id","1"]])")
                 .status,
             200);
    QCOMPARE(m_server->client()
                 .post("/api/v1/sessions/hostile-closed/close", R"({"reason":"x"})")
                 .status,
             200);
    m_before = snapshot();
}

void TstHostile::cleanupTestCase()
{
    m_server.reset();
}

QByteArray TstHostile::snapshot() const
{
    const HttpTestClient c = m_server->client();
    QByteArray out;
    for (const QByteArray &path :
         {QByteArray("/api/v1/sessions?page[size]=100"),
          QByteArray("/api/v1/sessions/hostile-a/runs"), QByteArray("/api/v1/sessions/hostile-b"),
          QByteArray("/api/v1/sessions/hostile-closed"),
          QByteArray("/realtime/v1/sessions/hostile-a/in/records"),
          QByteArray("/realtime/v1/sessions/hostile-a/out/records"),
          QByteArray("/realtime/v1/sessions/hostile-b/in/records"),
          QByteArray("/realtime/v1/sessions/hostile-b/out/records")}) {
        const HttpResponse r = c.get(path);
        out += path + ' ' + QByteArray::number(r.status) + ' ' + r.body + '\n';
    }
    return out;
}

void TstHostile::verifyServing(int withinMs) const
{
    QElapsedTimer t;
    t.start();
    const HttpResponse r =
        m_server->client().request("GET", "/api/v1/sessions/hostile-a", {}, {}, withinMs);
    QCOMPARE(r.status, 200);
    QCOMPARE(jsonString(r.json(), "externalId"), QByteArray("hostile-a"));
    QVERIFY2(t.elapsed() < withinMs, qPrintable(QStringLiteral("%1 ms").arg(t.elapsed())));
}

void TstHostile::serveOthers(const QByteArray &key, int requests, qint64 budgetMs)
{
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < requests; ++i)
        verifyServing(2000);
    const TestJson created = m_server->createSession(QString::fromLatin1(key));
    QCOMPARE(jsonString(created, "externalId"), key);
    SseTestClient sub(m_server->base(), "/realtime/v1/sessions/" + key + "/in",
                      {{"Authorization", bearer(m_secret)}, {"Timeout-Seconds", "10"}});
    sub.open();
    QVERIFY(sub.waitForHead(2000));
    QCOMPARE(m_server->appendIn(QString::fromLatin1(key), R"({"kind":"stop"})", "p1").status, 200);
    QVERIFY(sub.waitForRecords(1, 2000));
    QVERIFY2(t.elapsed() < budgetMs, qPrintable(QStringLiteral("%1 ms").arg(t.elapsed())));
}

void TstHostile::refuse(const char *name, const QByteArray &method, const QByteArray &path,
                        const QByteArray &body, const QList<TestHeader> &headers, int status,
                        Answer answer, const QString &errorContains)
{
    QTest::newRow(name) << method << path << body << headers << status << int(answer)
                        << errorContains;
}

void TstHostile::refused_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QList<TestHeader>>("headers");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("answer");
    QTest::addColumn<QString>("errorContains");

    const TestHeader secret("Authorization", bearer(m_secret));
    const TestHeader asA("Authorization", bearer(m_tokenA));
    const TestHeader asB("Authorization", bearer(m_tokenB));
    const TestHeader json("Content-Type", "application/json");
    const QByteArray sessions = "/api/v1/sessions";
    const QByteArray inA = "/realtime/v1/sessions/hostile-a/in";
    const QByteArray outA = "/realtime/v1/sessions/hostile-a/out";
    const QByteArray key = m_secret;
    const QList<TestHeader> s{secret, json};
    const QList<TestHeader> sse{secret, {"Accept", "text/event-stream"}};
    const QStringList scopesA{"read:sessions:hostile-a", "write:sessions:hostile-a"};
    // A token for hostile-a's scopes, signed with `signingKey`, after `edit`.
    auto token = [&](const QByteArray &header, const QByteArray &signingKey,
                     const std::function<void(Claims &)> &edit = {}) {
        Claims claims;
        claims.scopes = scopesA;
        if (edit)
            edit(claims);
        return QList<TestHeader>{
            {"Authorization", bearer(TokenService::sign(header, claimsJson(claims), signingKey))}};
    };
    // alg "none" with no signature at all.
    const QByteArray algNoneToken = [&] {
        Claims claims;
        claims.scopes = scopesA;
        constexpr auto b64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;
        return QByteArray(R"({"alg":"none"})").toBase64(b64) + '.' +
               claimsJson(claims).toBase64(b64) + '.';
    }();
    const QByteArray hs256 = R"({"alg":"HS256"})";
    const QByteArray tenMiB(10 * 1024 * 1024, 'x');

    // Malformed JSON and wrong types on create.
    refuse("json: truncated", "POST", sessions, R"({"type":)", s, 400, Answer::JsonError,
           "Invalid JSON");
    refuse("json: empty body", "POST", sessions, "", s, 400, Answer::JsonError, "empty");
    refuse("json: null", "POST", sessions, "null", s, 400, Answer::JsonError, "Invalid JSON");
    refuse("json: array root", "POST", sessions, "[]", s, 400, Answer::JsonError,
           "Expected object");
    refuse("json: string root", "POST", sessions, R"("session")", s, 400);
    refuse("json: trailing garbage", "POST", sessions, sessionBody({}) + " x", s, 400,
           Answer::JsonError, "Invalid JSON");
    refuse("json: invalid UTF-8", "POST", sessions, sessionBody("\"externalId\":\"\xff\xfe\""), s,
           400, Answer::JsonError, "Invalid JSON");
    refuse("json: raw NUL in a string", "POST", sessions,
           sessionBody(QByteArray(R"("externalId":"a)") + '\0' + R"(b")"), s, 400,
           Answer::JsonError, "Invalid JSON");
    refuse("json: nested 5000 deep", "POST", sessions,
           sessionBody("\"metadata\":{\"a\":" + nested(5000) + "}"), s, 400, Answer::JsonError,
           "Invalid JSON");
    refuse(
        "json: number overflow", "POST", sessions,
        R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":{},"maxAttempts":1e400}})",
        s, 400);
    refuse("type: number", "POST", sessions,
           R"({"type":5,"taskIdentifier":"x","triggerConfig":{"basePayload":{}}})", s, 400,
           Answer::JsonError, "Expected string");
    refuse("type: 65 characters", "POST", sessions,
           R"({"type":")" + QByteArray(65, 't') +
               R"(","taskIdentifier":"x","triggerConfig":{"basePayload":{}}})",
           s, 400, Answer::JsonError, "at most 64");
    refuse("taskIdentifier: missing", "POST", sessions,
           R"({"type":"t","triggerConfig":{"basePayload":{}}})", s, 400, Answer::JsonError,
           "taskIdentifier");
    refuse("triggerConfig: a string", "POST", sessions,
           R"({"type":"t","taskIdentifier":"x","triggerConfig":"{}"})", s, 400);
    refuse("basePayload: an array", "POST", sessions,
           R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":[]}})", s, 400);
    refuse("tags: eleven", "POST", sessions,
           sessionBody(R"("tags":["1","2","3","4","5","6","7","8","9","10","11"])"), s, 400);
    refuse("tags: numbers", "POST", sessions, sessionBody(R"("tags":[1,2])"), s, 400);
    refuse("metadata: a string", "POST", sessions, sessionBody(R"("metadata":"{}")"), s, 400);
    refuse("expiresAt: not a date", "POST", sessions, sessionBody(R"("expiresAt":"soon")"), s, 400,
           Answer::JsonError, "Invalid date");
    refuse("externalId: session_ prefix", "POST", sessions,
           sessionBody(R"("externalId":"session_hostile-a")"), s, 400, Answer::JsonError,
           "session_");
    refuse("externalId: contains /", "POST", sessions,
           sessionBody(R"("externalId":"a/../hostile-a")"), s, 400);
    refuse("externalId: blank", "POST", sessions, sessionBody(R"("externalId":"   ")"), s, 400);
    refuse("externalId: 257 characters", "POST", sessions,
           sessionBody(R"("externalId":")" + QByteArray(257, 'e') + '"'), s, 400);
    refuse(
        "idleTimeoutInSeconds: 0", "POST", sessions,
        R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":{},"idleTimeoutInSeconds":0}})",
        s, 400);
    refuse(
        "idleTimeoutInSeconds: 3601", "POST", sessions,
        R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":{},"idleTimeoutInSeconds":3601}})",
        s, 400);
    refuse(
        "maxAttempts: a string", "POST", sessions,
        R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":{},"maxAttempts":"3"}})",
        s, 400);
    refuse(
        "concurrency: bad limit name", "POST", sessions,
        R"({"type":"t","taskIdentifier":"x","triggerConfig":{"basePayload":{},"concurrency":["a b"]}})",
        s, 400, Answer::JsonError, "Concurrency limit names");
    refuse("create: 10 MiB body", "POST", sessions, tenMiB, s, 413, Answer::JsonError, "too large");
    refuse("create: 33 KiB body", "POST", sessions,
           sessionBody(R"("metadata":{"a":")" + QByteArray(33 * 1024, 'm') + "\"}"), s, 413);
    refuse("create: closed externalId", "POST", sessions,
           sessionBody(R"("externalId":"hostile-closed")"), s, 409);

    // Credentials.
    refuse("auth: none", "GET", sessions, {}, {}, 401, Answer::JsonError, "Invalid or Missing");
    refuse("auth: Basic", "GET", sessions, {}, {{"Authorization", "Basic dXNlcjpwYXNz"}}, 401);
    refuse("auth: empty bearer", "GET", sessions, {}, {{"Authorization", "Bearer "}}, 401);
    refuse("auth: wrong secret key", "GET", sessions, {},
           {{"Authorization", bearer("tr_dev_not_the_key")}}, 401, Answer::JsonError,
           "Invalid API Key");
    refuse("auth: secret key with a suffix", "GET", sessions, {},
           {{"Authorization", bearer(key + "x")}}, 401);
    refuse("jwt: alg none", "GET", "/api/v1/sessions/hostile-a", {},
           {{"Authorization", bearer(algNoneToken)}}, 401, Answer::JsonError, "invalid");
    refuse("jwt: alg none signed", "GET", "/api/v1/sessions/hostile-a", {},
           token(R"({"alg":"none"})", key), 401);
    refuse("jwt: HS512 header", "GET", "/api/v1/sessions/hostile-a", {},
           token(R"({"alg":"HS512"})", key), 401);
    refuse("jwt: another signing key", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, "tr_dev_somebody_else"), 401);
    refuse("jwt: expired", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, key, [](Claims &c) { c.expOffset = -60; }), 401, Answer::JsonError,
           "expired");
    refuse("jwt: another environment", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, key, [](Claims &c) { c.sub = "env_other"; }), 401, Answer::JsonError,
           "environment");
    refuse("jwt: wrong issuer", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, key, [](Claims &c) { c.iss = "https://evil.example"; }), 401);
    refuse("jwt: not yet valid", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, key, [](Claims &c) { c.nbfOffset = 600; }), 401);
    refuse("jwt: pub false", "GET", "/api/v1/sessions/hostile-a", {},
           token(hs256, key, [](Claims &c) { c.pub = false; }), 401);
    refuse("jwt: garbage segments", "GET", "/api/v1/sessions/hostile-a", {},
           {{"Authorization", "Bearer a.b.c"}}, 401);
    refuse("jwt: 60 KiB token", "GET", "/api/v1/sessions/hostile-a", {},
           {{"Authorization", bearer(QByteArray(60 * 1024, 'A'))}}, 401);
    refuse("jwt: token in the query only", "GET", "/api/v1/sessions/hostile-a?token=" + m_tokenA,
           {}, {}, 401);
    refuse("jwt: B reads A", "GET", "/api/v1/sessions/hostile-a", {}, {asB}, 403, Answer::JsonError,
           "Unauthorized");
    refuse("jwt: B reads A by friendly id", "GET", "/api/v1/sessions/" + m_idA, {}, {asB}, 403);
    refuse("jwt: B appends to A", "POST", inA + "/append", R"({"kind":"stop"})", {asB}, 403);
    refuse("jwt: B subscribes to A", "GET", outA, {}, {asB, {"Accept", "text/event-stream"}}, 403);
    refuse("jwt: B drains A", "GET", inA + "/records", {}, {asB}, 403);
    refuse("jwt: B ends A's run", "POST", "/api/v1/sessions/hostile-a/end-and-continue",
           R"({"callingRunId":"run_x","reason":"upgrade"})", {asB, json}, 403);
    refuse("jwt: A appends to .out", "POST", outA + "/append",
           R"({"data":{"type":"text-delta","delta":"forged"},"id":"f"})", {asA}, 403,
           Answer::JsonError, "secret key");
    refuse("jwt: A forges a control record on .in", "POST", inA + "/append", "",
           {asA, {"X-Record-Headers", R"([["trigger-control","turn-complete"]])"}}, 403);
    refuse("jwt: A closes A", "POST", "/api/v1/sessions/hostile-a/close", "{}", {asA, json}, 403);
    refuse("jwt: A patches A", "PATCH", "/api/v1/sessions/hostile-a", R"({"tags":["x"]})",
           {asA, json}, 403);
    refuse("jwt: A lists", "GET", sessions, {}, {asA}, 403);
    refuse("jwt: A creates", "POST", sessions, sessionBody({}), {asA, json}, 403);
    refuse("jwt: A reads B's run", "GET", "/api/v3/runs/" + m_runB, {}, {asA}, 403);
    refuse("jwt: A asks for signing claims", "POST", "/api/v1/auth/jwt/claims", {}, {asA}, 401);

    // Floods: the request guard cuts them off before Qt buffers them.
    refuse("flood: a 1 MiB header", "GET", "/api/v1/sessions/hostile-a", {},
           {secret, {"X-Flood", QByteArray(1024 * 1024, 'h')}}, 431, Answer::JsonError,
           "header fields too large");
    refuse("flood: a 64 MiB header", "GET", "/api/v1/sessions/hostile-a", {},
           {secret, {"X-Flood", QByteArray(64 * 1024 * 1024, 'h')}}, 431);
    refuse(
        "flood: 2000 header fields", "GET", "/api/v1/sessions/hostile-a", {},
        [&] {
            QList<TestHeader> many{secret};
            for (int i = 0; i < 2000; ++i)
                many.append({"X-Many-" + QByteArray::number(i), QByteArray(64, 'v')});
            return many;
        }(),
        431);
    refuse("flood: a 1 MiB request line", "GET", "/api/v1/sessions/" + QByteArray(1024 * 1024, 'l'),
           {}, {secret}, 431);
    refuse("flood: Content-Length 10 GiB", "POST", sessions, "{}",
           {secret, json, {"Content-Length", "10737418240"}}, 413, Answer::JsonError, "too large");
    refuse(
        "flood: chunked 3 MiB append", "POST", inA + "/append",
        [] {
            QByteArray chunked;
            for (int i = 0; i < 48; ++i)
                chunked += "10000\r\n" + QByteArray(65536, 'c') + "\r\n";
            return chunked + "0\r\n\r\n";
        }(),
        {secret, {"Transfer-Encoding", "chunked"}}, 413, Answer::JsonError, "too large");
    refuse("flood: chunk size not hex", "POST", inA + "/append", "zz\r\nabc\r\n0\r\n\r\n",
           {secret, {"Transfer-Encoding", "chunked"}}, 400, Answer::JsonError, "chunked");

    // Ids that try to leave their path segment.
    refuse("id: %2F inside", "GET", "/api/v1/sessions/hostile-a%2Fruns", {}, {secret}, 400,
           Answer::JsonError, "Params Error");
    refuse("id: traversal with %2F", "GET", "/api/v1/sessions/..%2F..%2Fetc%2Fpasswd", {}, {secret},
           400);
    refuse("id: %2F on append", "POST", "/realtime/v1/sessions/hostile-a%2Fin/in/append",
           R"({"kind":"stop"})", {secret}, 400);
    refuse("id: %2F on subscribe", "GET", "/realtime/v1/sessions/..%2Fhostile-a/out", {}, sse, 400);
    refuse("id: dot-dot segment", "GET", "/api/v1/sessions/..", {}, {secret}, 404);
    refuse("id: unknown friendly id", "GET", "/api/v1/sessions/session_nope", {}, {secret}, 404);
    refuse("id: unknown externalId append", "POST", "/realtime/v1/sessions/nope/in/append",
           R"({"kind":"stop"})", {secret}, 404);
    refuse("id: unknown friendly id subscribe", "GET", "/realtime/v1/sessions/session_nope/out", {},
           sse, 404);
    refuse("id: 8 KiB", "GET", "/api/v1/sessions/" + QByteArray(8192, 'i'), {}, {secret}, 404);
    refuse("id: NUL byte", "GET", "/api/v1/sessions/hostile-a%00", {}, {secret}, 404);
    refuse("id: broken percent escape", "GET", "/api/v1/sessions/%zz", {}, {secret}, 404);
    refuse("io: neither in nor out", "GET", "/realtime/v1/sessions/hostile-a/sideways", {}, sse,
           400, Answer::JsonError, "Params Error");
    refuse("route: unknown", "GET", "/api/v2/sessions", {}, {secret}, 404);
    refuse("route: wrong method", "DELETE", "/api/v1/sessions/hostile-a", {}, {secret}, 405);
    refuse("route: empty segment", "POST", "/api/v1/sessions//close", "{}", {secret, json}, 404);

    // Channels.
    refuse("append: 10 MiB body", "POST", inA + "/append", tenMiB, {secret}, 413, Answer::JsonError,
           "too large");
    refuse("append: 1 MiB + 1", "POST", inA + "/append", QByteArray(1024 * 1024 + 1, '{'), {secret},
           413);
    refuse("append: X-Part-Id 65 characters", "POST", inA + "/append", R"({"kind":"stop"})",
           {secret, {"X-Part-Id", QByteArray(65, 'p')}}, 400, Answer::JsonError, "X-Part-Id");
    refuse("append: X-Part-Id with a space", "POST", inA + "/append", R"({"kind":"stop"})",
           {secret, {"X-Part-Id", "a b"}}, 400);
    refuse("append: X-Part-Id not ASCII", "POST", inA + "/append", R"({"kind":"stop"})",
           {secret, {"X-Part-Id", "caf\xc3\xa9"}}, 400);
    refuse("append: X-Record-Headers not JSON", "POST", outA + "/append", "x",
           {secret, {"X-Record-Headers", "[[trigger-control"}}, 400, Answer::JsonError,
           "X-Record-Headers");
    refuse("append: X-Record-Headers wrong shape", "POST", outA + "/append", "x",
           {secret, {"X-Record-Headers", R"([["only-a-name"]])"}}, 400);
    refuse("append: closed session", "POST", "/realtime/v1/sessions/hostile-closed/in/append",
           R"({"kind":"stop"})", {secret}, 400, Answer::JsonError, "closed session");
    refuse("records: afterEventId -1", "GET", inA + "/records?afterEventId=-1", {}, {secret}, 400);
    refuse("records: afterEventId abc", "GET", inA + "/records?afterEventId=abc", {}, {secret},
           400);
    refuse("records: afterEventId 19 digits", "GET",
           inA + "/records?afterEventId=9223372036854775807", {}, {secret}, 400);
    refuse("Timeout-Seconds: 0", "GET", outA, {}, sse + QList<TestHeader>{{"Timeout-Seconds", "0"}},
           400, Answer::TextError, "greater than 0");
    refuse("Timeout-Seconds: 601", "GET", outA, {},
           sse + QList<TestHeader>{{"Timeout-Seconds", "601"}}, 400, Answer::TextError,
           "less than 600");
    refuse("Timeout-Seconds: NaN", "GET", outA, {},
           sse + QList<TestHeader>{{"Timeout-Seconds", "NaN"}}, 400, Answer::TextError);
    refuse("Timeout-Seconds: -1", "GET", outA, {},
           sse + QList<TestHeader>{{"Timeout-Seconds", "-1"}}, 400, Answer::TextError);
    refuse("Timeout-Seconds: 1.5", "GET", outA, {},
           sse + QList<TestHeader>{{"Timeout-Seconds", "1.5"}}, 400, Answer::TextError);
    refuse("Timeout-Seconds: 1e309", "GET", outA, {},
           sse + QList<TestHeader>{{"Timeout-Seconds", "1e309"}}, 400, Answer::TextError);

    // Sessions API.
    refuse("list: page[size] 0", "GET", sessions + "?page[size]=0", {}, {secret}, 400);
    refuse("list: page[size] 101", "GET", sessions + "?page[size]=101", {}, {secret}, 400);
    refuse("list: page[size] abc", "GET", sessions + "?page[size]=abc", {}, {secret}, 400);
    refuse("list: after and before", "GET", sessions + "?page[after]=a&page[before]=b", {},
           {secret}, 400, Answer::JsonError, "Query Error");
    refuse("list: unknown status", "GET", sessions + "?filter[status]=SLEEPING", {}, {secret}, 400);
    refuse("list: createdAt from abc", "GET", sessions + "?filter[createdAt][from]=abc", {},
           {secret}, 400);
    refuse("patch: a new externalId", "PATCH", "/api/v1/sessions/hostile-a",
           R"({"externalId":"hostile-z"})", s, 422, Answer::JsonError, "cannot be changed");
    refuse("patch: externalId session_", "PATCH", "/api/v1/sessions/hostile-a",
           R"({"externalId":"session_x"})", s, 400);
    refuse("patch: metadata an array", "PATCH", "/api/v1/sessions/hostile-a", R"({"metadata":[1]})",
           s, 400);
    refuse("patch: 10 MiB body", "PATCH", "/api/v1/sessions/hostile-a", tenMiB, s, 413);
    refuse("close: reason 257 characters", "POST", "/api/v1/sessions/hostile-a/close",
           R"({"reason":")" + QByteArray(257, 'r') + "\"}", s, 400);
    refuse("close: body an array", "POST", "/api/v1/sessions/hostile-a/close", "[1]", s, 400);
    refuse("end-and-continue: no callingRunId", "POST",
           "/api/v1/sessions/hostile-a/end-and-continue", R"({"reason":"upgrade"})", s, 400);
    refuse("end-and-continue: reason 65 characters", "POST",
           "/api/v1/sessions/hostile-a/end-and-continue",
           R"({"callingRunId":"run_x","reason":")" + QByteArray(65, 'r') + "\"}", s, 400);
    refuse("end-and-continue: unknown session", "POST", "/api/v1/sessions/nope/end-and-continue",
           R"({"callingRunId":"run_x","reason":"upgrade"})", s, 404);
    refuse("runs: unknown run", "GET", "/api/v3/runs/run_nope", {}, {secret}, 404);
}

void TstHostile::refused()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(QList<TestHeader>, headers);
    QFETCH(int, status);
    QFETCH(int, answer);
    QFETCH(QString, errorContains);

    const HttpResponse r = m_server->anonymous().request(method, path, body, headers);
    QVERIFY2(r.status != 0, qPrintable(r.error));
    QVERIFY2(r.status == status, qPrintable(QStringLiteral("%1: %2").arg(r.status).arg(
                                     QString::fromUtf8(r.body.left(300)))));
    QString message;
    if (Answer(answer) == Answer::JsonError) {
        QVERIFY2(r.header("content-type").startsWith("application/json"),
                 r.header("content-type").constData());
        const TestJson j = r.json();
        QVERIFY2(j.is_object() && j.contains("error") && j["error"].is_string(),
                 r.body.constData());
        message = QString::fromStdString(j["error"].get<std::string>());
        if (j.contains("ok"))
            QCOMPARE_JSON(j["ok"], TestJson(false));
    } else {
        QVERIFY2(r.header("content-type").startsWith("text/plain"),
                 r.header("content-type").constData());
        message = QString::fromUtf8(r.body);
    }
    QVERIFY(!message.isEmpty());
    if (!errorContains.isEmpty())
        QVERIFY2(message.contains(errorContains, Qt::CaseInsensitive), qPrintable(message));
    // No secret ever comes back in an answer.
    QVERIFY(!r.body.contains(m_secret));

    verifyServing();
    QCOMPARE(snapshot(), m_before);
}

void TstHostile::sseCursors_data()
{
    QTest::addColumn<QByteArray>("lastEventId");
    QTest::addColumn<QByteArray>("timeout");
    QTest::addColumn<QList<qint64>>("seqs");

    // hostile-a's .out holds seq 0, 1, 2. Anything that is not one
    // non-negative integer means "from the start"; a cursor past the tail
    // means "nothing yet".
    const QList<qint64> all{0, 1, 2};
    QTest::newRow("no cursor") << QByteArray() << QByteArray("1") << all;
    QTest::newRow("-1") << QByteArray("-1") << QByteArray("1") << all;
    QTest::newRow("-99999") << QByteArray("-99999") << QByteArray("1") << all;
    QTest::newRow("not a number") << QByteArray("abc") << QByteArray("1") << all;
    QTest::newRow("two numbers") << QByteArray("0,1") << QByteArray("1") << all;
    QTest::newRow("20 digits") << QByteArray("99999999999999999999") << QByteArray("1") << all;
    QTest::newRow("0") << QByteArray("0") << QByteArray("1") << QList<qint64>{1, 2};
    QTest::newRow("padded 1") << QByteArray("  1 ") << QByteArray("1") << QList<qint64>{2};
    QTest::newRow("at the tail") << QByteArray("2") << QByteArray("1") << QList<qint64>{};
    QTest::newRow("far past the tail")
        << QByteArray("999999999999999999") << QByteArray("1") << QList<qint64>{};
    QTest::newRow("timeout 1e0") << QByteArray("1") << QByteArray("1e0") << QList<qint64>{2};
}

void TstHostile::sseCursors()
{
    QFETCH(QByteArray, lastEventId);
    QFETCH(QByteArray, timeout);
    QFETCH(QList<qint64>, seqs);

    QList<TestHeader> headers{{"Authorization", bearer(m_tokenA)}, {"Timeout-Seconds", timeout}};
    if (!lastEventId.isNull())
        headers.append({"Last-Event-ID", lastEventId});
    SseTestClient sub(m_server->base(), "/realtime/v1/sessions/hostile-a/out", headers);
    sub.open();
    QVERIFY(sub.waitForEnd(5000));
    QCOMPARE(sub.status(), 200);
    QCOMPARE(sub.header("content-type"), QByteArray("text/event-stream"));
    QVERIFY(sub.sawDone());
    QVERIFY2(sub.errors().isEmpty(), qPrintable(sub.errors().join('\n')));
    QList<qint64> got;
    for (const SseTestRecord &r : sub.records())
        got << r.seq;
    QCOMPARE(got, seqs);
    QCOMPARE(sub.lastTailSeq().value_or(-1), qint64(3));
    verifyServing();
    QCOMPARE(snapshot(), m_before);
}

void TstHostile::notHttp()
{
    // Bytes Qt's parser cannot read: no answer or an error, never a 2xx, and
    // everyone else is still served.
    const HttpTestClient c = m_server->client();
    for (const QByteArray &junk :
         {QByteArray(4096, '\x01') + "\r\n\r\n", QByteArray("GET\r\n\r\n"),
          QByteArray("GET / HTTP/9.9\r\n\r\n"), QByteArray("\r\n\r\n\r\n\r\n"),
          QByteArray("POST /api/v1/sessions HTTP/1.1\r\nContent-Length: -5\r\n\r\n")}) {
        const QList<HttpResponse> r = c.raw(junk, 1, {}, 3000);
        QVERIFY2(r.first().status == 0 || r.first().status >= 400,
                 qPrintable(QString::number(r.first().status)));
        verifyServing();
    }
    QCOMPARE(snapshot(), m_before);
}

void TstHostile::nestingDepth()
{
    // The parser's limit is where Qt's QJsonDocument (the agent's parser) stops.
    const int max = wirejson::MaxDepth;
    QVERIFY(wirejson::parse(nested(max)).has_value());
    QVERIFY(!wirejson::parse(nested(max + 1)).has_value());
    QVERIFY(!QJsonDocument::fromJson(nested(max)).isNull());
    QVERIFY(QJsonDocument::fromJson(nested(max + 1)).isNull());
    // Brackets inside strings do not count.
    QVERIFY(wirejson::parse("[\"" + QByteArray(5000, '[') + "\\\"\"]").has_value());

    // An append whose body mentions actionSource is parsed to strip it; 300,000
    // levels used to overflow the stack in dump(). Now it is stored as text,
    // and neither the server nor the agent can read it as a message.
    m_server->createSession("hostile-deep");
    const QByteArray deep =
        R"({"kind":"message","payload":{"actionSource":"webhook","x":)" + nested(300000) + "}}";
    const HttpResponse r = m_server->appendIn("hostile-deep", deep, "deep-1");
    QCOMPARE(r.status, 200);
    const HttpResponse records =
        m_server->client().get("/realtime/v1/sessions/hostile-deep/in/records");
    QCOMPARE(records.status, 200);
    QCOMPARE(records.json()["records"].size(), size_t(1));
    QCOMPARE(QByteArray::fromStdString(records.json()["records"][0]["data"].get<std::string>()),
             deep);
    // The same depth inside a session body is refused, not stored.
    const HttpResponse create = m_server->client().post(
        "/api/v1/sessions", sessionBody("\"metadata\":{\"a\":" + nested(16000) + "}"));
    QCOMPARE(create.status, 400);
    verifyServing();
}

void TstHostile::slowlorisDoesNotStarveOthers()
{
    // 200 clients that never finish their headers, one byte at a time.
    std::vector<std::unique_ptr<QTcpSocket>> slow;
    for (int i = 0; i < 200; ++i) {
        auto s = std::make_unique<QTcpSocket>();
        s->connectToHost(m_server->base().host(), quint16(m_server->base().port()));
        s->write("POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n");
        slow.push_back(std::move(s));
    }
    QVERIFY(HttpTestClient::spinUntil(
        [&] {
            return std::all_of(slow.begin(), slow.end(), [](const auto &s) {
                return s->state() == QAbstractSocket::ConnectedState;
            });
        },
        5000));
    QTimer drip;
    drip.setInterval(50);
    connect(&drip, &QTimer::timeout, this, [&] {
        for (auto &s : slow)
            s->write("X");
    });
    drip.start();

    serveOthers("hostile-slowloris", 20, 15000);

    // Half-sent bodies count as slow too.
    for (int i = 0; i < 50; ++i)
        slow[size_t(i)]->write("\r\n{\"type\":");
    verifyServing(2000);
    drip.stop();
    for (auto &s : slow)
        s->abort();
    verifyServing();
}

void TstHostile::idleSseConnectionsDoNotStarveOthers()
{
    rlimit limit{};
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < rlim_t(2 * kIdleStreams + 200))
        QSKIP(qPrintable(QStringLiteral("the descriptor limit (%1, hard %2) is below the %3 this "
                                        "test needs")
                             .arg(limit.rlim_cur)
                             .arg(limit.rlim_max)
                             .arg(2 * kIdleStreams + 200)));

    m_server->createSession("hostile-idle");
    const int before = m_server->server().subscriberCount();
    std::vector<std::unique_ptr<SseTestClient>> idle;
    idle.reserve(kIdleStreams);
    QElapsedTimer opening;
    opening.start();
    // In batches, so the listen backlog never drops a SYN (a dropped one is
    // retried only after a second).
    for (int batch = 0; batch < kIdleStreams; batch += 50) {
        for (int i = batch; i < batch + 50; ++i) {
            auto sub = std::make_unique<SseTestClient>(
                m_server->base(), "/realtime/v1/sessions/hostile-idle/out",
                QList<TestHeader>{{"Authorization", bearer(m_secret)}, {"Timeout-Seconds", "120"}});
            sub->setSeqOnly(true);
            sub->open();
            idle.push_back(std::move(sub));
        }
        QVERIFY2(
            HttpTestClient::spinUntil(
                [&] { return m_server->server().subscriberCount() >= before + batch + 50; }, 10000),
            qPrintable(QStringLiteral("%1 of %2 subscribed")
                           .arg(m_server->server().subscriberCount() - before)
                           .arg(batch + 50)));
    }
    qInfo("%d idle SSE connections open after %lld ms", kIdleStreams, opening.elapsed());

    serveOthers("hostile-busy", 10, 10000);

    // And the thousand are alive: one record reaches every one of them.
    QCOMPARE(
        m_server->appendOut("hostile-idle", R"({"data":{"type":"start"},"id":"i0"})", "i0", "[]")
            .status,
        200);
    QVERIFY(HttpTestClient::spinUntil(
        [&] {
            return std::all_of(idle.begin(), idle.end(),
                               [](const auto &s) { return s->records().size() == 1; });
        },
        15000));
    for (auto &s : idle)
        s->close();
    QVERIFY(HttpTestClient::spinUntil(
        [&] { return m_server->server().subscriberCount() == before; }, 15000));
    verifyServing();
}

QTEST_GUILESS_MAIN(TstHostile)
#include "tst_hostile.moc"
