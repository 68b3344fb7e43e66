// Sessions REST, runs, routing and CORS against a real server on loopback.

#include "httptestclient.h"
#include "server/sessionservice.h"
#include "server/tokenservice.h"
#include "testserver.h"

#include <QRegularExpression>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

constexpr auto s = &jsonString;

QByteArray enc(const QString &key)
{
    return QUrl::toPercentEncoding(key);
}

const QRegularExpression kIsoDate(QStringLiteral(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)"));
const QRegularExpression kSessionId(QStringLiteral("^session_c[0-9a-z]{24}$"));
const QRegularExpression kRunId(QStringLiteral("^run_c[0-9a-z]{24}$"));

} // namespace

class TstSessionsApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void createFreshThenCached();
    void createWithoutExternalIdIsNeverCached();
    void createClosedOrExpiredIsConflict();
    void createValidation_data();
    void createValidation();
    void createTrimsExternalIdAndStripsUnknownKeys();
    void createBodyCap();
    void listPaginatesAndFilters();
    void listQueryErrors();
    void retrieveBothForms();
    void patch();
    void closeIsIdempotent();
    void endAndContinue();
    void runsEndpoint();
    void sessionRunsAuditNewestFirst();
    void routingAndCors();
    void pipelinedAndKeepAlive();
    void survivesRestart();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstSessionsApi::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void TstSessionsApi::cleanup()
{
    m_server.reset();
}

void TstSessionsApi::createFreshThenCached()
{
    auto c = m_server->client();
    const HttpResponse first = c.postJson(
        "/api/v1/sessions",
        TestServer::sessionBody("chat-1", {{"tags", {"a", "b"}}, {"metadata", {{"k", 1}}}}));
    QCOMPARE(first.status, 201);
    QCOMPARE(first.header("content-type"), QByteArray("application/json; charset=utf-8"));
    const TestJson j = first.json();
    // Every SessionItem key, in the real API's order, plus the create extras.
    QStringList keys;
    for (auto it = j.begin(); it != j.end(); ++it)
        keys << QString::fromStdString(it.key());
    QCOMPARE(keys, QStringList({"id", "externalId", "type", "taskIdentifier", "triggerConfig",
                                "currentRunId", "tags", "metadata", "closedAt", "closedReason",
                                "expiresAt", "createdAt", "updatedAt", "runId", "publicAccessToken",
                                "isCached"}));
    QVERIFY2(kSessionId.match(QString::fromUtf8(s(j, "id"))).hasMatch(), s(j, "id"));
    QCOMPARE(s(j, "externalId"), QByteArray("chat-1"));
    QCOMPARE(s(j, "type"), QByteArray("chat.agent"));
    QVERIFY(kRunId.match(QString::fromUtf8(s(j, "runId"))).hasMatch());
    QCOMPARE(s(j, "currentRunId"), s(j, "runId"));
    QCOMPARE_JSON(j["tags"], TestJson({"a", "b"}));
    QCOMPARE_JSON(j["metadata"], TestJson({{"k", 1}}));
    QVERIFY(j["closedAt"].is_null() && j["closedReason"].is_null() && j["expiresAt"].is_null());
    QVERIFY(kIsoDate.match(QString::fromUtf8(s(j, "createdAt"))).hasMatch());
    QCOMPARE_JSON(j["isCached"], TestJson(false));
    QCOMPARE_JSON(j["triggerConfig"], TestJson({{"basePayload", {{"chatId", "chat-1"}}}}));
    auto claims = m_server->server().tokens().verify(s(j, "publicAccessToken"));
    QVERIFY(claims.ok());
    QCOMPARE(claims->scopes, QStringList({"read:sessions:chat-1", "write:sessions:chat-1"}));
    QCOMPARE(claims->expiresAt - claims->issuedAt, qint64(3600));

    // Same externalId: the same live session and run, the new triggerConfig written through.
    TestJson again = TestServer::sessionBody("chat-1");
    again["triggerConfig"]["basePayload"]["chatId"] = "chat-1-v2";
    const HttpResponse second = c.postJson("/api/v1/sessions", again);
    QCOMPARE(second.status, 200);
    const TestJson k = second.json();
    QCOMPARE_JSON(k["isCached"], TestJson(true));
    QCOMPARE(s(k, "id"), s(j, "id"));
    QCOMPARE(s(k, "runId"), s(j, "runId"));
    QCOMPARE_JSON(k["triggerConfig"]["basePayload"]["chatId"], TestJson("chat-1-v2"));
    QVERIFY(m_server->server().tokens().verify(s(k, "publicAccessToken")).ok());
    const TestJson fetched = c.get("/api/v1/sessions/chat-1").json();
    QCOMPARE_JSON(fetched["triggerConfig"]["basePayload"]["chatId"], TestJson("chat-1-v2"));
    QCOMPARE_JSON(fetched["tags"], TestJson({"a", "b"}));

    // One run, one audit row: the cached create reused the live run.
    auto session = m_server->server().sessions().session(u"chat-1");
    QVERIFY(session.ok());
    auto audit = m_server->server().sessions().sessionRuns(*session);
    QVERIFY(audit.ok());
    QCOMPARE(audit->size(), 1);
    QCOMPARE(audit->first().reason, QStringLiteral("initial"));

    // A cached create on a session whose run is gone starts a continuation run.
    QVERIFY(m_server->server()
                .sessions()
                .setRunStatus(QString::fromUtf8(s(j, "runId")), QStringLiteral("COMPLETED"))
                .ok());
    const TestJson third = c.postJson("/api/v1/sessions", TestServer::sessionBody("chat-1")).json();
    QCOMPARE_JSON(third["isCached"], TestJson(true));
    QVERIFY(s(third, "runId") != s(j, "runId"));
    audit = m_server->server().sessions().sessionRuns(*session);
    QCOMPARE(audit->first().reason, QStringLiteral("continuation"));
}

void TstSessionsApi::createWithoutExternalIdIsNeverCached()
{
    const TestJson a = m_server->createSession();
    const TestJson b = m_server->createSession();
    QVERIFY(a["externalId"].is_null());
    QVERIFY(s(a, "id") != s(b, "id"));
    QCOMPARE_JSON(b["isCached"], TestJson(false));
    // The token is keyed on the friendly id when there is no externalId.
    auto claims = m_server->server().tokens().verify(s(a, "publicAccessToken"));
    QCOMPARE(claims->scopes.first(),
             QStringLiteral("read:sessions:") + QString::fromUtf8(s(a, "id")));
}

void TstSessionsApi::createClosedOrExpiredIsConflict()
{
    auto c = m_server->client();
    m_server->createSession("closed-chat");
    QCOMPARE(c.post("/api/v1/sessions/closed-chat/close", "{}").status, 200);
    const HttpResponse closed =
        c.postJson("/api/v1/sessions", TestServer::sessionBody("closed-chat"));
    QCOMPARE(closed.status, 409);
    QCOMPARE(s(closed.json(), "error"),
             QByteArray("Session is closed; use a different externalId to create a new session"));

    const HttpResponse past = c.postJson(
        "/api/v1/sessions",
        TestServer::sessionBody("old-chat", {{"expiresAt", "2000-01-01T00:00:00.000Z"}}));
    QCOMPARE(past.status, 409);
    QVERIFY(s(past.json(), "error").startsWith("Session is expired"));

    const qint64 soon = QDateTime::currentMSecsSinceEpoch() + 300;
    const HttpResponse live = c.postJson(
        "/api/v1/sessions", TestServer::sessionBody("brief-chat", {{"expiresAt", soon}}));
    QCOMPARE(live.status, 201);
    QVERIFY(kIsoDate.match(QString::fromUtf8(s(live.json(), "expiresAt"))).hasMatch());
    QTest::qWait(400);
    const HttpResponse expired =
        c.postJson("/api/v1/sessions", TestServer::sessionBody("brief-chat"));
    QCOMPARE(expired.status, 409);
    QCOMPARE(s(expired.json(), "error"),
             QByteArray("Session is expired; use a different externalId to create a new session"));
}

void TstSessionsApi::createValidation_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("message");
    const auto with = [](const TestJson &patch) {
        TestJson b = TestServer::sessionBody("v-chat");
        for (auto it = patch.begin(); it != patch.end(); ++it) {
            if (it.value().is_null())
                b.erase(it.key());
            else
                b[it.key()] = it.value();
        }
        return QByteArray::fromStdString(b.dump());
    };
    const auto tc = [&](const TestJson &extra) {
        TestJson config = {{"basePayload", TestJson::object()}};
        for (auto it = extra.begin(); it != extra.end(); ++it)
            config[it.key()] = it.value();
        return with({{"triggerConfig", config}});
    };
    QTest::newRow("empty body") << QByteArray() << 400 << QByteArray("Request body is empty");
    QTest::newRow("not json") << QByteArray("{") << 400 << QByteArray("Invalid JSON");
    QTest::newRow("null") << QByteArray("null") << 400 << QByteArray("Invalid JSON");
    QTest::newRow("array") << QByteArray("[]") << 400
                           << QByteArray("Expected object, received array");
    QTest::newRow("no type") << with({{"type", nullptr}}) << 400
                             << QByteArray("Required at \"type\"");
    QTest::newRow("empty type") << with({{"type", ""}}) << 400
                                << QByteArray("at least 1 character(s) at \"type\"");
    QTest::newRow("long type") << with({{"type", std::string(65, 't')}}) << 400
                               << QByteArray("at most 64 character(s) at \"type\"");
    QTest::newRow("type number") << with({{"type", 5}}) << 400
                                 << QByteArray("Expected string, received number at \"type\"");
    QTest::newRow("blank externalId")
        << with({{"externalId", "   "}}) << 400 << QByteArray("at \"externalId\"");
    QTest::newRow("reserved externalId") << with({{"externalId", "session_abc"}}) << 400
                                         << QByteArray("externalId cannot start with 'session_'");
    QTest::newRow("long externalId") << with({{"externalId", std::string(257, 'x')}}) << 400
                                     << QByteArray("at most 256 character(s) at \"externalId\"");
    QTest::newRow("slash externalId")
        << with({{"externalId", "a/b"}}) << 400 << QByteArray("cannot contain '/'");
    QTest::newRow("no task") << with({{"taskIdentifier", nullptr}}) << 400
                             << QByteArray("Required at \"taskIdentifier\"");
    QTest::newRow("long task") << with({{"taskIdentifier", std::string(129, 'x')}}) << 400
                               << QByteArray("at \"taskIdentifier\"");
    QTest::newRow("no triggerConfig")
        << with({{"triggerConfig", nullptr}}) << 400 << QByteArray("Required at \"triggerConfig\"");
    QTest::newRow("no basePayload") << with({{"triggerConfig", TestJson::object()}}) << 400
                                    << QByteArray("Required at \"triggerConfig.basePayload\"");
    QTest::newRow("basePayload array")
        << with({{"triggerConfig", {{"basePayload", TestJson::array()}}}}) << 400
        << QByteArray("Expected object, received array at \"triggerConfig.basePayload\"");
    // The SDK's SessionTriggerConfig allows 10 (protocol.md said 5).
    QTest::newRow("11 config tags")
        << tc({{"tags", {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}}) << 400
        << QByteArray("Array must contain at most 10 element(s) at \"triggerConfig.tags\"");
    QTest::newRow("idle 0")
        << tc({{"idleTimeoutInSeconds", 0}}) << 400
        << QByteArray("Number must be greater than 0 at \"triggerConfig.idleTimeoutInSeconds\"");
    QTest::newRow("idle 3601")
        << tc({{"idleTimeoutInSeconds", 3601}}) << 400
        << QByteArray("less than or equal to 3600 at \"triggerConfig.idleTimeoutInSeconds\"");
    QTest::newRow("idle float") << tc({{"idleTimeoutInSeconds", 1.5}}) << 400
                                << QByteArray("Expected integer, received float");
    QTest::newRow("maxAttempts 11")
        << tc({{"maxAttempts", 11}}) << 400 << QByteArray("at \"triggerConfig.maxAttempts\"");
    QTest::newRow("machine") << tc({{"machine", "huge"}}) << 400
                             << QByteArray("Invalid enum value");
    QTest::newRow("queue long") << tc({{"queue", std::string(129, 'q')}}) << 400
                                << QByteArray("at \"triggerConfig.queue\"");
    QTest::newRow("11 tags") << with({{"tags",
                                       {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}})
                             << 400 << QByteArray("at most 10 element(s) at \"tags\"");
    QTest::newRow("long tag") << with({{"tags", {std::string(129, 'g')}}}) << 400
                              << QByteArray("at \"tags[0]\"");
    QTest::newRow("metadata array")
        << with({{"metadata", {1, 2}}}) << 400 << QByteArray("at \"metadata\"");
    QTest::newRow("bad date") << with({{"expiresAt", "soon"}}) << 400
                              << QByteArray("Invalid date at \"expiresAt\"");
    // Past a JavaScript Date's range (8.64e15 ms) is an Invalid Date, not
    // an integer overflow (fuzz/corpus/request-body/create-float-casts).
    QTest::newRow("date 1e300") << with({{"expiresAt", 1e300}}) << 400
                                << QByteArray("Invalid date at \"expiresAt\"");
    QTest::newRow("date past range") << with({{"expiresAt", 8640000000000001LL}}) << 400
                                     << QByteArray("Invalid date at \"expiresAt\"");
    QTest::newRow("full config ok") << tc({{"machine", "small-1x"},
                                           {"queue", "q"},
                                           {"tags", {"t"}},
                                           {"maxAttempts", 3},
                                           {"maxDuration", 60},
                                           {"lockToVersion", "20261121.1"},
                                           {"region", "eu"},
                                           {"idleTimeoutInSeconds", 3600}})
                                    << 201 << QByteArray();
}

void TstSessionsApi::createValidation()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QByteArray, message);
    const HttpResponse r =
        m_server->client().post("/api/v1/sessions", body, {{"Content-Type", "application/json"}});
    QCOMPARE(r.status, status);
    if (!message.isEmpty())
        QVERIFY2(s(r.json(), "error").contains(message), r.body.constData());
    if (status == 201) {
        // lockToVersion pins the first run's version.
        const auto run = m_server->server().sessions().run(QString::fromUtf8(s(r.json(), "runId")));
        QCOMPARE(run->version, QStringLiteral("20261121.1"));
        QCOMPARE(run->tags, QStringList{"t"});
    }
}

void TstSessionsApi::createTrimsExternalIdAndStripsUnknownKeys()
{
    TestJson body = TestServer::sessionBody("  padded  ");
    body["unknown"] = 1;
    body["triggerConfig"]["bogus"] = true;
    const HttpResponse r = m_server->client().postJson("/api/v1/sessions", body);
    QCOMPARE(r.status, 201);
    QCOMPARE(s(r.json(), "externalId"), QByteArray("padded"));
    QVERIFY(!r.json()["triggerConfig"].contains("bogus"));
    QVERIFY(!r.json().contains("unknown"));
}

void TstSessionsApi::createBodyCap()
{
    TestJson body = TestServer::sessionBody("big");
    body["metadata"] = {{"blob", std::string(33 * 1024, 'x')}};
    const HttpResponse r = m_server->client().postJson("/api/v1/sessions", body);
    QCOMPARE(r.status, 413);
    QCOMPARE(s(r.json(), "error"), QByteArray("Request body too large"));
}

void TstSessionsApi::listPaginatesAndFilters()
{
    auto c = m_server->client();
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    QStringList ids; // creation order
    QSet<QString> closed;
    for (int i = 0; i < 250; ++i) {
        TestJson extra = {{"type", i % 2 ? "odd" : "even"},
                          {"taskIdentifier", i % 5 == 0 ? "five" : "other"}};
        extra["tags"] = i % 3 == 0 ? TestJson({"third", "all"}) : TestJson({"all"});
        const TestJson j = m_server->createSession(QStringLiteral("list-%1").arg(i), extra);
        QVERIFY2(j.contains("id"), j.dump().c_str());
        ids << QString::fromUtf8(s(j, "id"));
        if (i % 10 == 0) {
            QCOMPARE(c.post("/api/v1/sessions/" + s(j, "id") + "/close", "{}").status, 200);
            closed << ids.last();
        }
    }
    const qint64 after = QDateTime::currentMSecsSinceEpoch();
    QStringList newestFirst = ids;
    std::reverse(newestFirst.begin(), newestFirst.end());

    // Forward walk, 20 per page.
    QStringList seen;
    QList<QByteArray> cursors; // page[after] used for each page
    QByteArray next;
    int pages = 0;
    while (pages < 50) {
        const QByteArray path = "/api/v1/sessions?page[size]=20" +
                                (next.isEmpty() ? QByteArray() : "&page[after]=" + next);
        const HttpResponse r = c.get(path);
        QCOMPARE(r.status, 200);
        const TestJson j = r.json();
        QVERIFY(j["data"].is_array());
        for (const auto &item : j["data"]) {
            QVERIFY(!item.contains("triggerConfig"));
            seen << QString::fromStdString(item["id"].get<std::string>());
        }
        ++pages;
        cursors << next;
        if (pages > 1)
            QVERIFY(j["pagination"].contains("previous"));
        else
            QVERIFY(!j["pagination"].contains("previous"));
        if (!j["pagination"].contains("next"))
            break;
        next = QByteArray::fromStdString(j["pagination"]["next"].get<std::string>());
    }
    QCOMPARE(pages, 13);
    QCOMPARE(seen, newestFirst);

    // Backward walk from the last page reproduces every page.
    const TestJson last =
        c.get("/api/v1/sessions?page[size]=20&page[after]=" + cursors.last()).json();
    QByteArray previous =
        QByteArray::fromStdString(last["pagination"]["previous"].get<std::string>());
    QStringList backward;
    for (const auto &item : last["data"])
        backward << QString::fromStdString(item["id"].get<std::string>());
    int steps = 0;
    while (!previous.isEmpty() && steps < 50) {
        const TestJson j = c.get("/api/v1/sessions?page[size]=20&page[before]=" + previous).json();
        QStringList page;
        for (const auto &item : j["data"])
            page << QString::fromStdString(item["id"].get<std::string>());
        QCOMPARE(page.size(), 20);
        backward = page + backward;
        previous = j["pagination"].contains("previous")
                       ? QByteArray::fromStdString(j["pagination"]["previous"].get<std::string>())
                       : QByteArray();
        ++steps;
    }
    QCOMPARE(steps, 12);
    QCOMPARE(backward, newestFirst);

    // Filters, each walked to the end with a page size of 100.
    auto count = [&](const QByteArray &filter) {
        int n = 0;
        QByteArray cursor;
        for (int guard = 0; guard < 20; ++guard) {
            const TestJson j = c.get("/api/v1/sessions?page[size]=100&" + filter +
                                     (cursor.isEmpty() ? QByteArray() : "&page[after]=" + cursor))
                                   .json();
            n += int(j["data"].size());
            if (!j["pagination"].contains("next"))
                break;
            cursor = QByteArray::fromStdString(j["pagination"]["next"].get<std::string>());
        }
        return n;
    };
    QCOMPARE(count("filter[type]=odd"), 125);
    QCOMPARE(count("filter[type]=odd,even"), 250);
    QCOMPARE(count("filter[type]=odd&filter[type]=even"), 250);
    QCOMPARE(count("filter[tags]=third"), 84);
    QCOMPARE(count("filter[taskIdentifier]=five"), 50);
    QCOMPARE(count("filter[externalId]=list-7"), 1);
    QCOMPARE(count("filter[status]=CLOSED"), 25);
    QCOMPARE(count("filter[status]=ACTIVE"), 225);
    QCOMPARE(count("filter[status]=EXPIRED"), 0);
    QCOMPARE(count("filter[status]=ACTIVE,CLOSED"), 250);
    QCOMPARE(count("filter[type]=even&filter[status]=CLOSED"), 25);
    QCOMPARE(count("filter[createdAt][period]=1h"), 250);
    QCOMPARE(count("filter[createdAt][period]=bogus"), 250);
    QCOMPARE(count("filter[createdAt][from]=" + QByteArray::number(before) +
                   "&filter[createdAt][to]=" + QByteArray::number(after)),
             250);
    QCOMPARE(count("filter[createdAt][to]=" + QByteArray::number(before - 1)), 0);
    QCOMPARE(count("filter[createdAt][from]=" + QByteArray::number(after + 1000)), 0);
    QCOMPARE(count("filter[tags]=third&filter[type]=odd"), 42);

    // The externalId filter matches a single session, including closed ones.
    const TestJson one = c.get("/api/v1/sessions?filter[externalId]=list-0").json();
    QCOMPARE_JSON(one["data"].size(), size_t(1));
    QVERIFY(!one["data"][0]["closedAt"].is_null());
    QVERIFY(closed.contains(QString::fromStdString(one["data"][0]["id"].get<std::string>())));
}

void TstSessionsApi::listQueryErrors()
{
    auto c = m_server->client();
    for (const QByteArray &q :
         {QByteArray("page[size]=0"), QByteArray("page[size]=101"), QByteArray("page[size]=abc"),
          QByteArray("page[size]=2.5"), QByteArray("page[after]=a&page[before]=b"),
          QByteArray("filter[status]=BOGUS"), QByteArray("filter[createdAt][from]=yesterday")}) {
        const HttpResponse r = c.get("/api/v1/sessions?" + q);
        QCOMPARE(r.status, 400);
        QCOMPARE(s(r.json(), "error"), QByteArray("Query Error"));
    }
    QCOMPARE(c.get("/api/v1/sessions?page%5Bsize%5D=5").status, 200);
}

void TstSessionsApi::retrieveBothForms()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession("chat-retrieve");
    const HttpResponse byExternal = c.get("/api/v1/sessions/chat-retrieve");
    const HttpResponse byFriendly = c.get("/api/v1/sessions/" + s(created, "id"));
    QCOMPARE(byExternal.status, 200);
    QCOMPARE(byFriendly.status, 200);
    QCOMPARE(byExternal.body, byFriendly.body);
    const TestJson j = byExternal.json();
    QCOMPARE(s(j, "currentRunId"), s(created, "runId"));
    QVERIFY(j.contains("triggerConfig"));
    QVERIFY(!j.contains("publicAccessToken"));

    const HttpResponse missing = c.get("/api/v1/sessions/nope");
    QCOMPARE(missing.status, 404);
    QCOMPARE(s(missing.json(), "error"), QByteArray("Not found"));
    QCOMPARE(c.get("/api/v1/sessions/session_cxxxxxxxxxxxxxxxxxxxxxxxx").status, 404);
    // An externalId with characters that need escaping.
    m_server->createSession("chat with spaces?&");
    QCOMPARE(c.get("/api/v1/sessions/" + enc("chat with spaces?&")).status, 200);
}

void TstSessionsApi::patch()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession("chat-patch", {{"metadata", {{"a", 1}}}});
    HttpResponse r =
        c.patchJson("/api/v1/sessions/chat-patch", {{"tags", {"x"}}, {"metadata", {{"b", 2}}}});
    QCOMPARE(r.status, 200);
    QCOMPARE_JSON(r.json()["tags"], TestJson({"x"}));
    QCOMPARE_JSON(r.json()["metadata"], TestJson({{"b", 2}}));
    QVERIFY(r.json().contains("triggerConfig"));

    r = c.patchJson("/api/v1/sessions/" + s(created, "id"), {{"metadata", nullptr}});
    QCOMPARE(r.status, 200);
    QVERIFY(r.json()["metadata"].is_null());
    QCOMPARE_JSON(r.json()["tags"], TestJson({"x"}));

    // Same externalId is fine; another one, or clearing it, is not.
    QCOMPARE(c.patchJson("/api/v1/sessions/chat-patch", {{"externalId", "chat-patch"}}).status,
             200);
    r = c.patchJson("/api/v1/sessions/chat-patch", {{"externalId", "chat-other"}});
    QCOMPARE(r.status, 422);
    QVERIFY(s(r.json(), "error").startsWith("externalId cannot be changed after creation"));
    QCOMPARE(c.patchJson("/api/v1/sessions/chat-patch", {{"externalId", nullptr}}).status, 422);
    QCOMPARE(c.get("/api/v1/sessions/chat-patch").status, 200);

    QCOMPARE(c.patchJson("/api/v1/sessions/chat-patch", {{"tags", "x"}}).status, 400);
    QCOMPARE(c.patchJson("/api/v1/sessions/chat-patch", {{"externalId", "session_x"}}).status, 400);
    const HttpResponse missing =
        c.patchJson("/api/v1/sessions/none", {{"tags", TestJson::array()}});
    QCOMPARE(missing.status, 404);
    QCOMPARE(s(missing.json(), "error"), QByteArray("Session not found"));

    // A session without an externalId may not gain one either.
    const TestJson bare = m_server->createSession();
    QCOMPARE(c.patchJson("/api/v1/sessions/" + s(bare, "id"), {{"externalId", "late"}}).status,
             422);
    QCOMPARE(c.patchJson("/api/v1/sessions/" + s(bare, "id"), {{"externalId", nullptr}}).status,
             200);
}

void TstSessionsApi::closeIsIdempotent()
{
    auto c = m_server->client();
    m_server->createSession("chat-close");
    HttpResponse r = c.post("/api/v1/sessions/chat-close/close", R"({"reason":"user left"})");
    QCOMPARE(r.status, 200);
    const QByteArray closedAt = s(r.json(), "closedAt");
    QVERIFY(kIsoDate.match(QString::fromUtf8(closedAt)).hasMatch());
    QCOMPARE(s(r.json(), "closedReason"), QByteArray("user left"));
    QTest::qWait(5);
    r = c.post("/api/v1/sessions/chat-close/close", R"({"reason":"again"})");
    QCOMPARE(r.status, 200);
    QCOMPARE(s(r.json(), "closedAt"), closedAt);
    QCOMPARE(s(r.json(), "closedReason"), QByteArray("user left"));
    // No body at all is a close without a reason.
    m_server->createSession("chat-close-2");
    r = c.request("POST", "/api/v1/sessions/chat-close-2/close");
    QCOMPARE(r.status, 200);
    QVERIFY(r.json()["closedReason"].is_null());

    m_server->createSession("chat-close-4");
    HttpResponse tooLong = c.post("/api/v1/sessions/chat-close-4/close",
                                  QByteArray("{\"reason\":\"") + QByteArray(257, 'r') + "\"}");
    QCOMPARE(tooLong.status, 400);
    QVERIFY(s(tooLong.json(), "error").contains("at most 256 character(s) at \"reason\""));
    // Over the 1 KiB cap of the route: refused before it is parsed.
    QCOMPARE(c.post("/api/v1/sessions/chat-close-4/close",
                    QByteArray("{\"reason\":\"") + QByteArray(1100, 'r') + "\"}")
                 .status,
             413);
    m_server->createSession("chat-close-3");
    QCOMPARE(c.post("/api/v1/sessions/chat-close-3/close", R"({"reason":5})").status, 400);
    QCOMPARE(c.post("/api/v1/sessions/chat-close-3/close", "{nope").status, 400);
    QCOMPARE(c.post("/api/v1/sessions/missing/close", "{}").status, 404);
}

void TstSessionsApi::endAndContinue()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession("chat-eac");
    const QByteArray firstRun = s(created, "runId");
    TestJson body = {{"callingRunId", firstRun.toStdString()}, {"reason", "upgrade"}};
    HttpResponse r = c.postJson("/api/v1/sessions/chat-eac/end-and-continue", body);
    QCOMPARE(r.status, 200);
    const TestJson swap = r.json();
    QCOMPARE_JSON(swap["swapped"], TestJson(true));
    const QByteArray secondRun = s(swap, "runId");
    QVERIFY(kRunId.match(QString::fromUtf8(secondRun)).hasMatch());
    QVERIFY(secondRun != firstRun);
    QCOMPARE(s(c.get("/api/v1/sessions/chat-eac").json(), "currentRunId"), secondRun);
    // The new run's boot payload marks the handoff.
    const TestJson run = c.get("/api/v3/runs/" + secondRun).json();
    QCOMPARE_JSON(run["payload"]["continuation"], TestJson(true));
    QCOMPARE_JSON(run["payload"]["previousRunId"], TestJson(firstRun.toStdString()));
    QCOMPARE_JSON(run["payload"]["sessionId"], created["id"]);

    // The old run calling again lost the claim: the winner is reported.
    r = c.postJson("/api/v1/sessions/" + s(created, "id") + "/end-and-continue", body);
    QCOMPARE(r.status, 200);
    QCOMPARE_JSON(r.json()["swapped"], TestJson(false));
    QCOMPARE(s(r.json(), "runId"), secondRun);

    // Unknown labels are audited as manual.
    r = c.postJson("/api/v1/sessions/chat-eac/end-and-continue",
                   {{"callingRunId", secondRun.toStdString()}, {"reason", "whim"}});
    QCOMPARE_JSON(r.json()["swapped"], TestJson(true));
    const auto session = m_server->server().sessions().session(u"chat-eac");
    const auto audit = m_server->server().sessions().sessionRuns(*session);
    QCOMPARE(audit->size(), 3);
    QCOMPARE(audit->at(0).reason, QStringLiteral("manual"));
    QCOMPARE(audit->at(1).reason, QStringLiteral("upgrade"));
    QCOMPARE(audit->at(2).reason, QStringLiteral("initial"));
    QCOMPARE(session->currentRunVersion, qint64(3));

    r = c.postJson("/api/v1/sessions/chat-eac/end-and-continue",
                   {{"callingRunId", "run_nope"}, {"reason", "upgrade"}});
    QCOMPARE(r.status, 404);
    QCOMPARE(s(r.json(), "error"), QByteArray("callingRunId not found in this environment"));
    QCOMPARE(
        c.postJson("/api/v1/sessions/chat-eac/end-and-continue", {{"reason", "upgrade"}}).status,
        400);
    QCOMPARE(c.postJson("/api/v1/sessions/chat-eac/end-and-continue",
                        {{"callingRunId", "x"}, {"reason", std::string(65, 'r')}})
                 .status,
             400);
    r = c.postJson("/api/v1/sessions/nope/end-and-continue", body);
    QCOMPARE(r.status, 404);
    QCOMPARE(s(r.json(), "error"), QByteArray("Resource not found"));

    QCOMPARE(c.post("/api/v1/sessions/chat-eac/close", "{}").status, 200);
    r = c.postJson("/api/v1/sessions/chat-eac/end-and-continue",
                   {{"callingRunId", secondRun.toStdString()}, {"reason", "upgrade"}});
    QCOMPARE(r.status, 400);
    QCOMPARE(s(r.json(), "error"), QByteArray("Cannot end-and-continue a closed session"));

    const qint64 soon = QDateTime::currentMSecsSinceEpoch() + 200;
    const TestJson brief = m_server->createSession("chat-eac-exp", {{"expiresAt", soon}});
    QTest::qWait(300);
    r = c.postJson("/api/v1/sessions/chat-eac-exp/end-and-continue",
                   {{"callingRunId", brief["runId"]}, {"reason", "upgrade"}});
    QCOMPARE(r.status, 400);
    QCOMPARE(s(r.json(), "error"), QByteArray("Cannot end-and-continue an expired session"));
}

void TstSessionsApi::runsEndpoint()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession(
        "chat-run", {{"triggerConfig",
                      {{"basePayload", {{"chatId", "chat-run"}, {"message", "hi"}}},
                       {"idleTimeoutInSeconds", 30},
                       {"tags", {"t1"}}}}});
    const QByteArray runId = s(created, "runId");
    HttpResponse r = c.get("/api/v3/runs/" + runId);
    QCOMPARE(r.status, 200);
    TestJson j = r.json();
    QCOMPARE(s(j, "id"), runId);
    QCOMPARE(s(j, "status"), QByteArray("QUEUED"));
    QCOMPARE(s(j, "taskIdentifier"), QByteArray("test-agent"));
    QCOMPARE(s(j, "version"), QByteArray("0"));
    QCOMPARE_JSON(j["isQueued"], TestJson(true));
    QCOMPARE_JSON(j["isCompleted"], TestJson(false));
    QCOMPARE_JSON(j["isSuccess"], TestJson(false));
    QCOMPARE_JSON(j["isFailed"], TestJson(false));
    QCOMPARE_JSON(j["isCancelled"], TestJson(false));
    QCOMPARE_JSON(j["tags"], TestJson({"t1"}));
    QCOMPARE_JSON(j["durationMs"], TestJson(0));
    QVERIFY(!j.contains("startedAt") && !j.contains("finishedAt"));
    QVERIFY(kIsoDate.match(QString::fromUtf8(s(j, "createdAt"))).hasMatch());
    QCOMPARE_JSON(j["payload"]["chatId"], TestJson("chat-run"));
    QCOMPARE_JSON(j["payload"]["message"], TestJson("hi"));
    QCOMPARE_JSON(j["payload"]["idleTimeoutInSeconds"], TestJson(30));
    QCOMPARE_JSON(j["payload"]["sessionId"], created["id"]);
    QVERIFY(!j["payload"].contains("continuation"));

    auto &sessions = m_server->server().sessions();
    QVERIFY(sessions.setRunStatus(QString::fromUtf8(runId), QStringLiteral("EXECUTING")).ok());
    QTest::qWait(20);
    QVERIFY(sessions.setRunStatus(QString::fromUtf8(runId), QStringLiteral("COMPLETED")).ok());
    j = c.get("/api/v3/runs/" + runId).json();
    QCOMPARE_JSON(j["isCompleted"], TestJson(true));
    QCOMPARE_JSON(j["isSuccess"], TestJson(true));
    QVERIFY(j.contains("startedAt") && j.contains("finishedAt"));
    QVERIFY(j["durationMs"].get<qint64>() >= 15);
    QVERIFY(!sessions.setRunStatus(QString::fromUtf8(runId), QStringLiteral("BOGUS")).ok());

    // The next append finds the run gone and starts a continuation run whose
    // payload drops the first-run fields.
    QCOMPARE(m_server->appendIn("chat-run", R"({"kind":"message","payload":{"chatId":"chat-run"}})")
                 .status,
             200);
    const QByteArray next = s(c.get("/api/v1/sessions/chat-run").json(), "currentRunId");
    QVERIFY(next != runId);
    j = c.get("/api/v3/runs/" + next).json();
    QCOMPARE_JSON(j["payload"]["continuation"], TestJson(true));
    QCOMPARE_JSON(j["payload"]["previousRunId"], TestJson(runId.toStdString()));
    QVERIFY(!j["payload"].contains("message"));

    r = c.get("/api/v3/runs/run_missing");
    QCOMPARE(r.status, 404);
    QCOMPARE(r.header("x-should-retry"), QByteArray("true"));
}

void TstSessionsApi::sessionRunsAuditNewestFirst()
{
    auto c = m_server->client();
    const TestJson created = m_server->createSession("chat-audit");
    const QByteArray first = s(created, "runId");
    const QByteArray second =
        s(c.postJson("/api/v1/sessions/chat-audit/end-and-continue",
                     {{"callingRunId", first.toStdString()}, {"reason", "upgrade"}})
              .json(),
          "runId");
    m_server->server().sessions().defaultRunLauncher().setDefaultVersion(
        QStringLiteral("20261121.2"));
    QVERIFY(m_server->server()
                .sessions()
                .setRunStatus(QString::fromUtf8(second), QStringLiteral("CRASHED"))
                .ok());
    QCOMPARE(m_server->appendIn("chat-audit", "{}").status, 200);

    for (const QByteArray &key : {QByteArray("chat-audit"), s(created, "id")}) {
        const HttpResponse r = c.get("/api/v1/sessions/" + key + "/runs");
        QCOMPARE(r.status, 200);
        const TestJson data = r.json()["data"];
        QCOMPARE(data.size(), size_t(3));
        QCOMPARE_JSON(data[0]["reason"], TestJson("continuation"));
        QCOMPARE_JSON(data[0]["run"]["version"], TestJson("20261121.2"));
        QCOMPARE_JSON(data[0]["run"]["status"], TestJson("QUEUED"));
        QCOMPARE_JSON(data[1]["reason"], TestJson("upgrade"));
        QCOMPARE_JSON(data[1]["runId"], TestJson(second.toStdString()));
        QCOMPARE_JSON(data[1]["run"]["status"], TestJson("CRASHED"));
        QVERIFY(!data[1]["run"]["finishedAt"].is_null());
        QCOMPARE_JSON(data[2]["reason"], TestJson("initial"));
        QCOMPARE_JSON(data[2]["runId"], TestJson(first.toStdString()));
        QCOMPARE_JSON(data[2]["run"]["version"], TestJson("0"));
        QCOMPARE_JSON(data[2]["sessionId"], created["id"]);
        QVERIFY(QString::fromStdString(data[2]["id"].get<std::string>()).startsWith("srun_"));
        QVERIFY(kIsoDate.match(QString::fromStdString(data[2]["triggeredAt"].get<std::string>()))
                    .hasMatch());
    }
    QCOMPARE(c.get("/api/v1/sessions/nope/runs").status, 404);
}

void TstSessionsApi::routingAndCors()
{
    auto c = m_server->client();
    HttpResponse r = c.get("/api/v1/nothing");
    QCOMPARE(r.status, 404);
    QCOMPARE(s(r.json(), "error"), QByteArray("Not found"));
    r = c.request("DELETE", "/api/v1/sessions");
    QCOMPARE(r.status, 405);
    QCOMPARE(r.header("allow"), QByteArray("GET, POST"));
    QCOMPARE(c.get("/api/v1/sessions/x/close").status, 405);
    QCOMPARE(c.get("/healthcheck").status, 200);

    r = c.request("OPTIONS", "/api/v1/sessions", {},
                  {{"Origin", "http://app.example"},
                   {"Access-Control-Request-Method", "POST"},
                   {"Access-Control-Request-Headers", "authorization, content-type, x-part-id"}});
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("http://app.example"));
    QCOMPARE(r.header("access-control-allow-headers"),
             QByteArray("authorization, content-type, x-part-id"));
    QVERIFY(r.header("access-control-allow-methods").contains("POST"));
    r = c.get("/api/v1/sessions", {{"Origin", "http://app.example"}});
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("http://app.example"));
    QCOMPARE(r.header("vary"), QByteArray("Origin"));
    QCOMPARE(c.get("/api/v1/sessions").header("access-control-allow-origin"), QByteArray("*"));
    // The OPTIONS answer needs no credentials (browsers send none).
    QCOMPARE(m_server->anonymous().request("OPTIONS", "/realtime/v1/sessions/x/in/append").status,
             204);

    m_server->createSession("chat-route");
    QCOMPARE(c.get("/api/v1/sessions/chat-route/").status, 200);
    r = c.get("/api/v1/sessions/chat%2Froute");
    QCOMPARE(r.status, 400);
    QCOMPARE(s(r.json(), "error"), QByteArray("Params Error"));
    QCOMPARE(c.get("/realtime/v1/sessions/a%2Fb/in/records").status, 400);
    QCOMPARE(c.post("/api/v1/sessions//close", "{}").status, 404);
    QCOMPARE(c.get("/api/v1/sessions/chat-route").header("x-sessionscope-version"),
             QByteArray(SESSIONSCOPE_VERSION));
}

void TstSessionsApi::pipelinedAndKeepAlive()
{
    auto c = m_server->client();
    m_server->createSession("chat-pipe");
    // Three requests in one write: answered in order on one connection, the
    // append (answered after its commit) included.
    QByteArray raw = c.requestBytes("GET", "/api/v1/sessions/chat-pipe", {}, {});
    raw += c.requestBytes("POST", "/realtime/v1/sessions/chat-pipe/in/append", "hello",
                          {{"X-Part-Id", "pipe-1"}});
    raw += c.requestBytes("HEAD", "/realtime/v1/sessions/chat-pipe/in", {}, {});
    raw += c.requestBytes("GET", "/api/v1/sessions/nope", {}, {});
    const QList<HttpResponse> out = c.raw(raw, 4, {false, false, true, false});
    QCOMPARE(out.size(), 4);
    QCOMPARE(out.at(0).status, 200);
    QCOMPARE(s(out.at(0).json(), "externalId"), QByteArray("chat-pipe"));
    QCOMPARE(out.at(1).status, 200);
    QCOMPARE_JSON(out.at(1).json()["seq"], TestJson(0));
    QCOMPARE(out.at(2).status, 200);
    QCOMPARE(out.at(2).header("x-last-chunk-index"), QByteArray("0"));
    QCOMPARE(out.at(3).status, 404);

    // Connection: close is honoured.
    const QList<HttpResponse> closing =
        c.raw(c.requestBytes("GET", "/healthcheck", {}, {{"Connection", "close"}}), 1);
    QCOMPARE(closing.first().status, 200);
    QCOMPARE(closing.first().header("connection"), QByteArray("close"));

    // Garbage on the wire is refused without harming the server.
    const QList<HttpResponse> junk = c.raw("NOT-HTTP\r\n\r\n", 1, {}, 2000);
    Q_UNUSED(junk);
    QCOMPARE(c.get("/healthcheck").status, 200);
}

void TstSessionsApi::survivesRestart()
{
    const TestJson created = m_server->createSession("chat-restart", {{"tags", {"keep"}}});
    QCOMPARE(m_server->appendIn("chat-restart", "x", "p-1").status, 200);
    QVERIFY(m_server->restart());
    auto c = m_server->client();
    const TestJson j = c.get("/api/v1/sessions/chat-restart").json();
    QCOMPARE_JSON(j["id"], created["id"]);
    QCOMPARE_JSON(j["tags"], TestJson({"keep"}));
    QCOMPARE_JSON(j["currentRunId"], created["runId"]);
    QCOMPARE_JSON(c.get("/api/v1/sessions/chat-restart/runs").json()["data"].size(), size_t(1));
    // The session token minted before the restart still works: same secret.
    HttpTestClient withToken(m_server->base(), s(created, "publicAccessToken"));
    QCOMPARE(withToken.get("/realtime/v1/sessions/chat-restart/in/records").status, 200);
}

QTEST_GUILESS_MAIN(TstSessionsApi)
#include "tst_sessionsapi.moc"
