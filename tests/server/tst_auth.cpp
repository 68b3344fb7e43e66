// The secret key and public access tokens: 401s, and the scope matrix of
// every route (403 when a valid token lacks the scope).

#include "httptestclient.h"
#include "server/apiauth.h"
#include "server/tokenservice.h"
#include "ssetestclient.h"
#include "testserver.h"

#include <QDateTime>
#include <QMap>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

constexpr auto kB64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

QByteArray claimsJson(const QStringList &scopes, qint64 exp,
                      const QByteArray &iss = TokenService::Issuer,
                      const QByteArray &aud = TokenService::Audience,
                      const QByteArray &sub = "env_sessionscope", bool pub = true)
{
    TestJson c = {{"sub", sub.toStdString()}, {"pub", pub}, {"scopes", TestJson::array()}};
    for (const QString &s : scopes)
        c["scopes"].push_back(s.toStdString());
    c["iss"] = iss.toStdString();
    c["aud"] = aud.toStdString();
    c["exp"] = exp;
    c["iat"] = QDateTime::currentSecsSinceEpoch();
    return QByteArray::fromStdString(c.dump());
}

} // namespace

class TstAuth : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void scopeGrammar();
    void mintedTokenShape();
    void unauthorizedAnswers();
    void scopeMatrix();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstAuth::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void TstAuth::cleanup()
{
    m_server.reset();
}

void TstAuth::scopeGrammar()
{
    AuthContext pat;
    pat.scopes = {"read:tags:env:staging", "write:sessions:chat-1", "admin:sessions",
                  "*:runs:run_1"};
    QVERIFY(pat.can(u"read", {"tags", "env:staging"}));
    QVERIFY(!pat.can(u"read", {"tags", "env"}));
    QVERIFY(pat.can(u"write", {"sessions", "chat-1"}));
    QVERIFY(!pat.can(u"write", {"sessions", "chat-2"}));
    QVERIFY(!pat.can(u"write", {"sessions", ""})); // an id-scoped grant is not the collection
    QVERIFY(!pat.can(u"read", {"sessions", "chat-1"}));
    QVERIFY(pat.can(u"admin", {"sessions", "anything"}));
    QVERIFY(!pat.can(u"admin", {"runs", "x"})); // admin:<type> is not a wildcard
    QVERIFY(pat.can(u"read", {"runs", "run_1"}));
    QVERIFY(pat.can(u"write", {"runs", "run_1"}));
    QVERIFY(!pat.canAny(u"read", {}));
    QVERIFY(pat.canEvery(u"read", {{"tags", "env:staging"}}, {}));
    QVERIFY(!pat.canEvery(u"read", {{"tags", "env:staging"}, {"tags", "x"}}, {}));
    AuthContext all;
    all.scopes = {"read:all"};
    QVERIFY(all.can(u"read", {"deployments", ""}));
    QVERIFY(!all.can(u"write", {"sessions", "a"}));
    AuthContext admin;
    admin.scopes = {"admin"};
    QVERIFY(admin.can(u"write", {"anything", "x"}));
    AuthContext secret;
    secret.kind = AuthContext::Kind::SecretKey;
    QVERIFY(secret.can(u"admin", {"sessions", "x"}));
}

void TstAuth::mintedTokenShape()
{
    const TestJson created = m_server->createSession("chat-shape");
    const QList<QByteArray> parts =
        QByteArray::fromStdString(created["publicAccessToken"].get<std::string>()).split('.');
    QCOMPARE(parts.size(), 3);
    QCOMPARE(QByteArray::fromBase64(parts.at(0), kB64), QByteArray(R"({"alg":"HS256"})"));
    const TestJson claims =
        TestJson::parse(QByteArray::fromBase64(parts.at(1), kB64).toStdString());
    QStringList keys;
    for (auto it = claims.begin(); it != claims.end(); ++it)
        keys << QString::fromStdString(it.key());
    QCOMPARE(keys, QStringList({"sub", "pub", "scopes", "iss", "aud", "exp", "iat"}));
    QCOMPARE_JSON(claims["pub"], TestJson(true));
    QCOMPARE_JSON(claims["iss"], TestJson("https://id.trigger.dev"));
    QCOMPARE_JSON(claims["aud"], TestJson("https://api.trigger.dev"));
    QCOMPARE_JSON(claims["scopes"],
                  TestJson::array({"read:sessions:chat-shape", "write:sessions:chat-shape"}));
    QCOMPARE(claims["exp"].get<qint64>() - claims["iat"].get<qint64>(), qint64(3600));
    QVERIFY(qAbs(claims["iat"].get<qint64>() - QDateTime::currentSecsSinceEpoch()) < 5);
}

void TstAuth::unauthorizedAnswers()
{
    m_server->createSession("chat-401");
    const QByteArray secret = TestServer::SecretKey;
    const qint64 future = QDateTime::currentSecsSinceEpoch() + 600;
    const QStringList scopes{"read:sessions:chat-401"};
    const QByteArray invalid =
        "Public Access Token is invalid. See "
        "https://trigger.dev/docs/frontend/overview#authentication for more information.";
    const QList<std::tuple<QByteArray, QByteArray, QByteArray>> cases = {
        {"missing", QByteArray(), "Invalid or Missing API key"},
        {"basic", "Basic dXNlcjpwYXNz", "Invalid or Missing API key"},
        {"wrong key", "Bearer tr_dev_not_the_key", "Invalid API Key"},
        {"garbage jwt", "Bearer abc.def.ghi", "Invalid API Key"},
        {"expired",
         "Bearer " +
             TokenService::sign(R"({"alg":"HS256"})", claimsJson(scopes, future - 1200), secret),
         "Public Access Token has expired. See "
         "https://trigger.dev/docs/frontend/overview#authentication for more information."},
        {"bad signature",
         "Bearer " +
             TokenService::sign(R"({"alg":"HS256"})", claimsJson(scopes, future), "other-secret"),
         invalid},
        {"alg none",
         "Bearer " + QByteArray(R"({"alg":"none"})").toBase64(kB64) + '.' +
             claimsJson(scopes, future).toBase64(kB64) + '.',
         invalid},
        {"alg HS512",
         "Bearer " + TokenService::sign(R"({"alg":"HS512"})", claimsJson(scopes, future), secret),
         invalid},
        {"wrong iss",
         "Bearer " + TokenService::sign(R"({"alg":"HS256"})",
                                        claimsJson(scopes, future, "https://evil"), secret),
         invalid},
        {"wrong aud",
         "Bearer " + TokenService::sign(R"({"alg":"HS256"})",
                                        claimsJson(scopes, future, TokenService::Issuer, "x"),
                                        secret),
         invalid},
        {"wrong sub",
         "Bearer " + TokenService::sign(R"({"alg":"HS256"})",
                                        claimsJson(scopes, future, TokenService::Issuer,
                                                   TokenService::Audience, "env_other"),
                                        secret),
         "Invalid Public Access Token, environment not found."},
        {"not public",
         "Bearer " +
             TokenService::sign(R"({"alg":"HS256"})",
                                claimsJson(scopes, future, TokenService::Issuer,
                                           TokenService::Audience, "env_sessionscope", false),
                                secret),
         "Invalid API Key"},
    };
    for (const auto &[name, header, message] : cases) {
        QList<TestHeader> headers;
        if (!header.isEmpty())
            headers.append({"Authorization", header});
        const HttpResponse r = m_server->anonymous().get("/api/v1/sessions/chat-401", headers);
        QVERIFY2(r.status == 401, name.constData());
        QCOMPARE(QByteArray::fromStdString(r.json()["error"].get<std::string>()), message);
        // The SSE route answers the same way.
        const HttpResponse sse =
            m_server->anonymous().get("/realtime/v1/sessions/chat-401/out", headers);
        QVERIFY2(sse.status == 401, name.constData());
    }
    // The same valid claims pass.
    const QByteArray good =
        TokenService::sign(R"({"alg":"HS256"})", claimsJson(scopes, future), secret);
    QCOMPARE(HttpTestClient(m_server->base(), good).get("/api/v1/sessions/chat-401").status, 200);
    // The signature's last character has two spare bits: a token spelled
    // differently is a different token, even when it decodes to the same MAC
    // (fuzz/corpus/jwt/signature-spare-bits).
    static const QByteArray alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    QByteArray respelled = good;
    respelled.back() = alphabet.at(alphabet.indexOf(good.back()) ^ 1);
    QCOMPARE(QByteArray::fromBase64(respelled.split('.').at(2), kB64),
             QByteArray::fromBase64(good.split('.').at(2), kB64));
    QCOMPARE(HttpTestClient(m_server->base(), respelled).get("/api/v1/sessions/chat-401").status,
             401);
}

void TstAuth::scopeMatrix()
{
    const TestJson created = m_server->createSession("chat-auth");
    const QByteArray friendly = QByteArray::fromStdString(created["id"].get<std::string>());
    const QByteArray runId = QByteArray::fromStdString(created["runId"].get<std::string>());
    // A second run, so end-and-continue by the first one is a no-op (swapped:false).
    const QByteArray staleRun = runId;
    QCOMPARE(m_server->client()
                 .postJson("/api/v1/sessions/chat-auth/end-and-continue",
                           {{"callingRunId", runId.toStdString()}, {"reason", "upgrade"}})
                 .status,
             200);
    const QByteArray currentRun = QByteArray::fromStdString(m_server->client()
                                                                .get("/api/v1/sessions/chat-auth")
                                                                .json()["currentRunId"]
                                                                .get<std::string>());
    TokenService &tokens = m_server->server().tokens();
    const qint64 future = QDateTime::currentSecsSinceEpoch() + 600;

    QMap<QString, QByteArray> tok;
    tok["secret"] = TestServer::SecretKey;
    tok["session"] = QByteArray::fromStdString(created["publicAccessToken"].get<std::string>());
    tok["friendly"] = tokens.mintSessionToken(QString::fromUtf8(friendly));
    tok["readOnly"] = tokens.mint({"read:sessions:chat-auth"});
    tok["writeOnly"] = tokens.mint({"write:sessions:chat-auth"});
    tok["wrongSession"] = tokens.mintSessionToken(QStringLiteral("chat-other"));
    tok["typeRead"] = tokens.mint({"read:sessions"});
    tok["adminSession"] = tokens.mint({"admin:sessions:chat-auth"});
    tok["admin"] = tokens.mint({"admin"});
    tok["readAll"] = tokens.mint({"read:all"});
    tok["runRead"] = tokens.mint({"read:runs:" + QString::fromUtf8(currentRun)});
    tok["taskWrite"] = tokens.mint({"write:tasks:test-agent"});
    tok["expired"] = TokenService::sign(R"({"alg":"HS256"})", claimsJson({"admin"}, future - 1200),
                                        TestServer::SecretKey);
    tok["badSignature"] =
        TokenService::sign(R"({"alg":"HS256"})", claimsJson({"admin"}, future), "not-the-secret");
    const QStringList names{"secret",       "session",   "friendly",     "readOnly",    "writeOnly",
                            "wrongSession", "typeRead",  "adminSession", "admin",       "readAll",
                            "runRead",      "taskWrite", "expired",      "badSignature"};

    struct Route
    {
        QString name;
        std::function<int(const QByteArray &token)> call;
        QStringList allowed; // tokens that succeed; 401 for expired/badSignature; else 403
    };
    int created_n = 0;
    auto http = [&](const QByteArray &token) { return HttpTestClient(m_server->base(), token); };
    auto sse = [&](const QByteArray &token, const QByteArray &path) {
        SseTestClient client(m_server->base(), path,
                             {{"Authorization", "Bearer " + token}, {"Timeout-Seconds", "1"}});
        client.open();
        client.waitForHead(5000);
        return client.status();
    };
    const QStringList readers{"secret",   "session", "friendly", "readOnly",
                              "typeRead", "admin",   "readAll"};
    const QStringList writers{"secret", "session", "friendly", "writeOnly", "admin"};
    const QList<Route> routes = {
        {"retrieve by externalId",
         [&](const QByteArray &t) { return http(t).get("/api/v1/sessions/chat-auth").status; },
         readers},
        {"retrieve by friendly id",
         [&](const QByteArray &t) { return http(t).get("/api/v1/sessions/" + friendly).status; },
         readers},
        {"list",
         [&](const QByteArray &t) { return http(t).get("/api/v1/sessions").status; },
         {"secret", "typeRead", "admin", "readAll"}},
        {"list by task",
         [&](const QByteArray &t) {
             return http(t).get("/api/v1/sessions?filter[taskIdentifier]=test-agent").status;
         },
         {"secret", "typeRead", "admin", "readAll"}},
        {"create",
         [&](const QByteArray &t) {
             return http(t)
                 .postJson("/api/v1/sessions",
                           TestServer::sessionBody(QStringLiteral("auth-new-%1").arg(++created_n)))
                 .status;
         },
         {"secret", "admin", "taskWrite"}},
        {"update",
         [&](const QByteArray &t) {
             return http(t).patchJson("/api/v1/sessions/chat-auth", {{"tags", {"t"}}}).status;
         },
         {"secret", "adminSession", "admin"}},
        {"end-and-continue",
         [&](const QByteArray &t) {
             return http(t)
                 .postJson("/api/v1/sessions/chat-auth/end-and-continue",
                           {{"callingRunId", staleRun.toStdString()}, {"reason", "upgrade"}})
                 .status;
         },
         writers},
        {"append in",
         [&](const QByteArray &t) {
             return http(t).post("/realtime/v1/sessions/chat-auth/in/append", "x").status;
         },
         writers},
        {"append in by friendly id",
         [&](const QByteArray &t) {
             return http(t).post("/realtime/v1/sessions/" + friendly + "/in/append", "x").status;
         },
         writers},
        {"append out",
         [&](const QByteArray &t) {
             return http(t).post("/realtime/v1/sessions/chat-auth/out/append", "x").status;
         },
         {"secret"}},
        {"subscribe out",
         [&](const QByteArray &t) { return sse(t, "/realtime/v1/sessions/chat-auth/out"); },
         readers},
        {"subscribe in by friendly id",
         [&](const QByteArray &t) { return sse(t, "/realtime/v1/sessions/" + friendly + "/in"); },
         readers},
        {"records",
         [&](const QByteArray &t) {
             return http(t).get("/realtime/v1/sessions/chat-auth/out/records").status;
         },
         readers},
        {"run",
         [&](const QByteArray &t) { return http(t).get("/api/v3/runs/" + currentRun).status; },
         {"secret", "admin", "readAll", "runRead"}},
        {"session runs",
         [&](const QByteArray &t) { return http(t).get("/api/v1/sessions/chat-auth/runs").status; },
         readers},
        // Last: closing is final (and idempotent, so every allowed token gets 200).
        {"close",
         [&](const QByteArray &t) {
             return http(t).post("/api/v1/sessions/chat-auth/close", "{}").status;
         },
         {"secret", "adminSession", "admin"}},
    };
    int checked = 0;
    for (const Route &route : routes) {
        for (const QString &name : names) {
            int expected = 403;
            if (name == u"expired" || name == u"badSignature")
                expected = 401;
            else if (route.allowed.contains(name))
                expected = route.name == u"create" ? 201 : 200;
            const int actual = route.call(tok.value(name));
            QVERIFY2(actual == expected, qPrintable(QStringLiteral("%1 with %2: %3, expected %4")
                                                        .arg(route.name, name)
                                                        .arg(actual)
                                                        .arg(expected)));
            ++checked;
        }
    }
    QCOMPARE(checked, routes.size() * names.size());
    // A forbidden answer looks like the webapp's.
    const HttpResponse forbidden = http(tok["wrongSession"]).get("/api/v1/sessions/chat-auth");
    QCOMPARE_JSON(forbidden.json(), TestJson({{"error", "Unauthorized"},
                                              {"code", "unauthorized"},
                                              {"param", "access_token"},
                                              {"type", "authorization"}}));
    // A token for a session that does not exist: 403 on actions (no leak), 404 on loaders.
    QCOMPARE(
        http(tok["wrongSession"]).post("/realtime/v1/sessions/chat-missing/in/append", "x").status,
        403);
    QCOMPARE(http(tokens.mintSessionToken("chat-missing"))
                 .post("/realtime/v1/sessions/chat-missing/in/append", "x")
                 .status,
             404);
    QCOMPARE(http(tok["wrongSession"]).get("/api/v1/sessions/chat-missing").status, 404);
}

QTEST_GUILESS_MAIN(TstAuth)
#include "tst_auth.moc"
