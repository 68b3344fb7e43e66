// The trusted edge proxy (server/edgeproxy.*) over loopback: in front of a
// real SessionServer with the agent runtime, and in front of scripted raw
// upstreams (slow, cut, odd statuses) written here on QTcpServer.
#include "server/agent/clientdataschema.h"
#include "server/edgeproxy.h"
#include "server/edgerewriter.h"
#include "server/edgesignals.h"
#include "server/sessionservice.h"
#include "ssetestclient.h"
#include "testserver.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <memory>

using namespace sessionscope;
using namespace sessionscope::test;

namespace {

constexpr int kWaitMs = 15000;
const QByteArray kKey = TestServer::SecretKey;
const QByteArray kBearer = "Bearer " + kKey; // for raw Authorization headers

// An upstream that reads one request per connection and answers with a
// script of (delay, bytes) steps, optionally closing at the end.
class ScriptedUpstream : public QObject
{
public:
    struct Step
    {
        int delayMs = 0;
        QByteArray bytes;
    };

    ScriptedUpstream()
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                socket->setParent(this);
                socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
            }
        });
    }

    void setScript(QList<Step> steps, bool closeAtEnd)
    {
        m_steps = std::move(steps);
        m_closeAtEnd = closeAtEnd;
    }
    QUrl url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server.serverPort())); }

    QByteArray request;   // the last complete request, head and body
    int stepsWritten = 0; // of the current answer

private:
    void onReadyRead(QTcpSocket *socket)
    {
        m_buffer += socket->readAll();
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        qint64 length = 0;
        for (const QByteArray &line : m_buffer.left(end).split('\n')) {
            if (line.toLower().startsWith("content-length:"))
                length = line.mid(15).trimmed().toLongLong();
        }
        if (m_buffer.size() < end + 4 + length)
            return;
        request = m_buffer.left(end + 4 + length);
        m_buffer.clear();
        stepsWritten = 0;
        runStep(socket, 0);
    }

    void runStep(QTcpSocket *socket, int index)
    {
        if (index >= m_steps.size()) {
            if (m_closeAtEnd)
                socket->disconnectFromHost();
            return;
        }
        QTimer::singleShot(m_steps.at(index).delayMs, socket, [this, socket, index] {
            socket->write(m_steps.at(index).bytes);
            socket->flush();
            ++stepsWritten;
            runStep(socket, index + 1);
        });
    }

    QTcpServer m_server;
    QByteArray m_buffer;
    QList<Step> m_steps;
    bool m_closeAtEnd = false;
};

QByteArray chunk(const QByteArray &data)
{
    return QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n";
}

TestJson edgeValue()
{
    return TestJson{{"edge", "test"}, {"trusted", true}};
}

std::unique_ptr<EdgeProxy> startProxy(const QUrl &upstream, EdgeSignals edgeSignals = EdgeSignals::fixed(edgeValue()),
                                      QStringList cors = {})
{
    EdgeProxyConfig config;
    config.upstream = upstream;
    config.namespaceKey = QStringLiteral("__edge");
    config.edgeSignals = std::move(edgeSignals);
    config.corsOrigins = std::move(cors);
    auto proxy = std::make_unique<EdgeProxy>(std::move(config));
    if (auto started = proxy->start(); !started)
        qWarning("proxy start failed: %s", qPrintable(started.error().message));
    return proxy;
}

// A SessionServer (agent runtime on unless told) with an edge proxy in front.
struct ProxiedServer
{
    explicit ProxiedServer(bool agent = true) : server(configWith(agent)) {}

    bool start(EdgeSignals edgeSignals = EdgeSignals::fixed(edgeValue()), QStringList cors = {})
    {
        if (!server.start())
            return false;
        proxy = startProxy(server.base(), std::move(edgeSignals), std::move(cors));
        return proxy->port() != 0;
    }
    HttpTestClient direct() const { return HttpTestClient(server.base(), kKey); }
    HttpTestClient viaProxy() const { return HttpTestClient(proxy->baseUrl(), kKey); }

    static ServerConfig configWith(bool agent)
    {
        ServerConfig config;
        config.agentRuntime = agent;
        return config;
    }

    TestServer server;
    std::unique_ptr<EdgeProxy> proxy;
};

TestJson parseJson(const QByteArray &text)
{
    return TestJson::parse(text.begin(), text.end(), nullptr, false);
}

// The ChatInputChunk an `.in` record holds (its data is the appended text).
TestJson inChunk(const TestJson &record)
{
    const std::string data = record.value("data", std::string());
    return TestJson::parse(data, nullptr, false);
}

bool isControl(const SseTestRecord &r, const QByteArray &subtype)
{
    return !r.headers.isEmpty() && r.headers.first().first == "trigger-control" && r.headers.first().second == subtype;
}

QByteArray headerOf(const SseTestRecord &r, const QByteArray &name)
{
    for (const auto &h : r.headers) {
        if (h.first == name)
            return h.second;
    }
    return {};
}

double percentile(QList<double> values, double p)
{
    if (values.isEmpty())
        return 0;
    std::sort(values.begin(), values.end());
    const qsizetype index = qMin(values.size() - 1, qsizetype(p * double(values.size() - 1) + 0.5));
    return values.at(index);
}

} // namespace

class TstEdgeProxy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void signalsFile_data();
    void signalsFile();
    void signalsFileErrors_data();
    void signalsFileErrors();
    void routes_data();
    void routes();
    void rewrites_data();
    void rewrites();
    void schemaRequiresObjectNamespace();

    void forgedValueNeverReachesAgent();
    void bypassFailsAtAgentBoundary();
    void sseThroughProxyStreamsEveryRecord();
    void slowUpstreamKeepsStreaming();
    void upstreamCutMidStream();
    void statusCodesAndHeadersPassThrough();
    void requestReachesUpstreamUntouched();
    void malformedBodies();
    void oversizedBodies();
    void corsPreflight();
    void upstreamDown();
    void manyStreamsDoNotStarveAppends();
    void executable();
    void cliSendsInThroughProxyAndReadsOutDirectly();
};

// ---- signals ------------------------------------------------------------------

void TstEdgeProxy::signalsFile_data()
{
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QList<TestHeader>>("headers");
    QTest::addColumn<QByteArray>("expected");

    const QByteArray full = R"({"static": {"edge": "eu-1", "tier": 2},
        "fromHeaders": {"country": "cf-ipcountry",
                        "botScore": {"header": "x-bot-score", "type": "number"},
                        "asn": {"header": "x-asn", "type": "integer"},
                        "verified": {"header": "x-verified", "type": "boolean"}},
        "clientAddress": "ip"})";
    QTest::newRow("every source") << full
                                  << QList<TestHeader>{{"CF-IPCountry", "NL"}, {"x-bot-score", " 87.5 "},
                                                       {"X-ASN", "13335"}, {"x-verified", "true"}}
                                  << QByteArray(R"({"edge":"eu-1","tier":2,"country":"NL","botScore":87.5,)"
                                                R"("asn":13335,"verified":true,"ip":"127.0.0.1"})");
    QTest::newRow("absent and unconvertible headers are null")
        << full << QList<TestHeader>{{"x-bot-score", "high"}, {"x-asn", "1.5"}, {"x-verified", "maybe"}}
        << QByteArray(R"({"edge":"eu-1","tier":2,"country":null,"botScore":null,"asn":null,"verified":null,)"
                      R"("ip":"127.0.0.1"})");
    QTest::newRow("the last of a repeated header (the CDN's)")
        << QByteArray(R"({"fromHeaders": {"country": "cf-ipcountry"}})")
        << QList<TestHeader>{{"cf-ipcountry", "XX"}, {"cf-ipcountry", "DE"}} << QByteArray(R"({"country":"DE"})");
    QTest::newRow("empty file: an empty object") << QByteArray("{}") << QList<TestHeader>{} << QByteArray("{}");
}

void TstEdgeProxy::signalsFile()
{
    QFETCH(QByteArray, file);
    QFETCH(QList<TestHeader>, headers);
    QFETCH(QByteArray, expected);
    QTemporaryDir dir;
    const QString path = dir.filePath("signals.json");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(file);
    f.close();
    auto loaded = EdgeSignals::fromSpec(path);
    QVERIFY2(loaded.ok(), loaded.ok() ? "" : qPrintable(loaded.error().message));
    const EdgeRequestFacts facts{QHostAddress(QStringLiteral("::ffff:127.0.0.1")), headers};
    QCOMPARE(QByteArray::fromStdString(loaded->valueFor(facts).dump()), expected);
    QVERIFY(!loaded->describe().isEmpty());

    auto fixed = EdgeSignals::fromSpec(QStringLiteral("static:{\"a\":[1,true]}"));
    QVERIFY(fixed.ok());
    QCOMPARE(QByteArray::fromStdString(fixed->valueFor(facts).dump()), QByteArray(R"({"a":[1,true]})"));
}

void TstEdgeProxy::signalsFileErrors_data()
{
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("mentions");

    QTest::newRow("static: not JSON") << QStringLiteral("static:{nope") << QByteArray() << QStringLiteral("not JSON");
    QTest::newRow("missing file") << QStringLiteral("/nonexistent/signals.json") << QByteArray()
                                  << QStringLiteral("cannot read");
    QTest::newRow("not an object") << QString() << QByteArray("[1]") << QStringLiteral("one JSON object");
    QTest::newRow("unknown key") << QString() << QByteArray(R"({"fromHeader": {}})")
                                 << QStringLiteral("unknown key \"fromHeader\"");
    QTest::newRow("key set twice") << QString()
                                   << QByteArray(R"({"static": {"ip": 1}, "clientAddress": "ip"})")
                                   << QStringLiteral("set twice");
    QTest::newRow("bad type") << QString()
                              << QByteArray(R"({"fromHeaders": {"s": {"header": "x-s", "type": "float"}}})")
                              << QStringLiteral("\"type\" is one of");
    QTest::newRow("bad header name") << QString() << QByteArray(R"({"fromHeaders": {"s": "x s"}})")
                                     << QStringLiteral("not a header name");
    QTest::newRow("static not an object") << QString() << QByteArray(R"({"static": 3})")
                                          << QStringLiteral("\"static\" must be an object");
}

void TstEdgeProxy::signalsFileErrors()
{
    QFETCH(QString, spec);
    QFETCH(QByteArray, file);
    QFETCH(QString, mentions);
    QTemporaryDir dir;
    if (spec.isEmpty()) {
        spec = dir.filePath("signals.json");
        QFile f(spec);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(file);
    }
    auto loaded = EdgeSignals::fromSpec(spec);
    QVERIFY(!loaded.ok());
    QVERIFY2(loaded.error().message.contains(mentions), qPrintable(loaded.error().message));
}

// ---- rewriting ----------------------------------------------------------------

void TstEdgeProxy::routes_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("route");

    const int none = int(EdgeRewriter::Route::None);
    const int create = int(EdgeRewriter::Route::CreateSession);
    const int append = int(EdgeRewriter::Route::AppendIn);
    QTest::newRow("create") << QByteArray("POST") << QByteArray("/api/v1/sessions") << create;
    QTest::newRow("create, trailing slash") << QByteArray("POST") << QByteArray("/api/v1/sessions/") << create;
    QTest::newRow("create, other case") << QByteArray("POST") << QByteArray("/API/V1/Sessions") << create;
    QTest::newRow("create, doubled slashes") << QByteArray("POST") << QByteArray("//api//v1/sessions") << create;
    QTest::newRow("create, dot segments") << QByteArray("POST") << QByteArray("/api/v2/../v1/./sessions") << create;
    QTest::newRow("create, encoded dots") << QByteArray("POST") << QByteArray("/api/x/%2e%2E/v1/sessions") << create;
    QTest::newRow("create, backslashes") << QByteArray("POST") << QByteArray("/api\\v1\\sessions") << create;
    QTest::newRow("create, encoded letters") << QByteArray("POST") << QByteArray("/api/v1/se%73sions") << create;
    QTest::newRow("list is GET") << QByteArray("GET") << QByteArray("/api/v1/sessions") << none;
    QTest::newRow("close") << QByteArray("POST") << QByteArray("/api/v1/sessions/s/close") << none;
    QTest::newRow("append") << QByteArray("POST") << QByteArray("/realtime/v1/sessions/chat-1/in/append") << append;
    QTest::newRow("append, encoded id") << QByteArray("POST")
                                        << QByteArray("/realtime/v1/sessions/a%2Fb/in/append") << append;
    QTest::newRow("append, encoded 'in'") << QByteArray("POST") << QByteArray("/realtime/v1/sessions/x/%69n/append")
                                          << append;
    QTest::newRow("out append") << QByteArray("POST") << QByteArray("/realtime/v1/sessions/x/out/append") << none;
    QTest::newRow("in subscribe") << QByteArray("GET") << QByteArray("/realtime/v1/sessions/x/in") << none;
    QTest::newRow("claims") << QByteArray("POST") << QByteArray("/api/v1/auth/jwt/claims") << none;
}

void TstEdgeProxy::routes()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(int, route);
    QCOMPARE(int(EdgeRewriter::routeOf(method, path)), route);
}

void TstEdgeProxy::rewrites_data()
{
    QTest::addColumn<int>("route");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("encoding");
    QTest::addColumn<int>("action");
    QTest::addColumn<QByteArray>("expected"); // the new body, or the refusal's status
    QTest::addColumn<bool>("dropped");

    const int create = int(EdgeRewriter::Route::CreateSession);
    const int append = int(EdgeRewriter::Route::AppendIn);
    const int forward = int(EdgeRewriter::Outcome::Action::Forward);
    const int rewritten = int(EdgeRewriter::Outcome::Action::Rewritten);
    const int refuse = int(EdgeRewriter::Outcome::Action::Refuse);
    const QByteArray edge = R"({"edge":"test","trusted":true})";

    QTest::newRow("append: forged value replaced")
        << append << QByteArray(R"({"kind":"message","payload":{"chatId":"c","metadata":{"userId":"u","__edge":{"trusted":false}}}})")
        << QByteArray() << rewritten
        << QByteArray(R"({"kind":"message","payload":{"chatId":"c","metadata":{"userId":"u","__edge":)" + edge + "}}}")
        << true;
    QTest::newRow("append: no metadata")
        << append << QByteArray(R"({"kind":"message","payload":{"chatId":"c"}})") << QByteArray() << rewritten
        << QByteArray(R"({"kind":"message","payload":{"chatId":"c","metadata":{"__edge":)" + edge + "}}}") << false;
    QTest::newRow("append: null metadata")
        << append << QByteArray(R"({"kind":"message","payload":{"metadata":null}})") << QByteArray() << rewritten
        << QByteArray(R"({"kind":"message","payload":{"metadata":{"__edge":)" + edge + "}}}") << false;
    QTest::newRow("append: no payload, untouched")
        << append << QByteArray(R"({"kind":"message"})") << QByteArray() << forward << QByteArray() << false;
    QTest::newRow("append: the last of duplicate keys wins, as in JSON.parse")
        << append << QByteArray(R"({"kind":"stop","kind":"message","payload":{"metadata":{"__edge":1,"__edge":2}}})")
        << QByteArray() << rewritten << QByteArray(R"({"kind":"message","payload":{"metadata":{"__edge":)" + edge + "}}}")
        << true;
    QTest::newRow("append: escaped key spelling")
        << append << QByteArray(R"({"kind":"message","payload":{"metadata":{"\u005f_edge":"forged"}}})") << QByteArray()
        << rewritten << QByteArray(R"({"kind":"message","payload":{"metadata":{"__edge":)" + edge + "}}}") << true;
    QTest::newRow("append: lone surrogate read as JSON.parse reads it")
        << append << QByteArray(R"({"kind":"message","payload":{"text":"\ud800","metadata":{"__edge":"f"}}})")
        << QByteArray() << rewritten
        << QByteArray("{\"kind\":\"message\",\"payload\":{\"text\":\"\xEF\xBF\xBD\",\"metadata\":{\"__edge\":" + edge +
                      "}}}")
        << true;
    QTest::newRow("append: stop untouched") << append << QByteArray(R"({"kind":"stop"})") << QByteArray() << forward
                                            << QByteArray() << false;
    QTest::newRow("append: string metadata untouched")
        << append << QByteArray(R"({"kind":"message","payload":{"metadata":"x"}})") << QByteArray() << forward
        << QByteArray() << false;
    QTest::newRow("append: malformed, key absent: untouched")
        << append << QByteArray(R"({"kind":"message","payload":{"metadata":{"userId":"u"}})") << QByteArray() << forward
        << QByteArray() << false;
    QTest::newRow("append: malformed naming the key: refused")
        << append << QByteArray(R"({"kind":"message","payload":{"metadata":{"__edge":{}}},"n":1e400})") << QByteArray()
        << refuse << QByteArray("400") << false;
    QTest::newRow("append: too deep naming the key: refused")
        << append << QByteArray(R"({"__edge":1,"x":)" + QByteArray(1100, '[') + QByteArray(1100, ']') + "}")
        << QByteArray() << refuse << QByteArray("400") << false;
    QTest::newRow("append: gzip body: refused") << append << QByteArray("\x1f\x8b") << QByteArray("gzip") << refuse
                                                << QByteArray("415") << false;
    QTest::newRow("append: identity encoding is fine")
        << append << QByteArray(R"({"kind":"message","payload":{}})") << QByteArray("Identity") << rewritten
        << QByteArray(R"({"kind":"message","payload":{"metadata":{"__edge":)" + edge + "}}}") << false;
    QTest::newRow("append: empty body untouched") << append << QByteArray() << QByteArray() << forward << QByteArray()
                                                  << false;
    QTest::newRow("append: array body naming the key, re-serialized")
        << append << QByteArray(R"([ "__edge" ])") << QByteArray() << rewritten << QByteArray(R"(["__edge"])") << false;

    QTest::newRow("create: forged value replaced, order kept")
        << create
        << QByteArray(R"({"type":"chat.agent","triggerConfig":{"basePayload":{"chatId":"c","metadata":{"__edge":"x","userId":"u"}},"tags":["t"]},"metadata":{"__edge":"session metadata is not clientData"}})")
        << QByteArray() << rewritten
        << QByteArray(R"({"type":"chat.agent","triggerConfig":{"basePayload":{"chatId":"c","metadata":{"userId":"u","__edge":)" +
                      edge + R"(}},"tags":["t"]},"metadata":{"__edge":"session metadata is not clientData"}})")
        << true;
    QTest::newRow("create: no triggerConfig, untouched (the upstream refuses it)")
        << create << QByteArray(R"({"type":"chat.agent"})") << QByteArray() << forward << QByteArray() << false;
    QTest::newRow("create: no metadata")
        << create << QByteArray(R"({"triggerConfig":{"basePayload":{}}})") << QByteArray() << rewritten
        << QByteArray(R"({"triggerConfig":{"basePayload":{"metadata":{"__edge":)" + edge + "}}}}") << false;
    QTest::newRow("create: basePayload not an object, untouched")
        << create << QByteArray(R"({"triggerConfig":{"basePayload":"x"}})") << QByteArray() << forward << QByteArray()
        << false;
    QTest::newRow("create: malformed without the key, untouched")
        << create << QByteArray(R"({"type":)") << QByteArray() << forward << QByteArray() << false;
    QTest::newRow("create: invalid UTF-8 read with replacement")
        << create << QByteArray("{\"type\":\"a\xff\",\"triggerConfig\":{\"basePayload\":{}}}") << QByteArray()
        << rewritten
        << QByteArray("{\"type\":\"a\xEF\xBF\xBD\",\"triggerConfig\":{\"basePayload\":{\"metadata\":{\"__edge\":" + edge +
                      "}}}}")
        << false;
}

void TstEdgeProxy::rewrites()
{
    QFETCH(int, route);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, encoding);
    QFETCH(int, action);
    QFETCH(QByteArray, expected);
    QFETCH(bool, dropped);
    const EdgeRewriter rewriter(QStringLiteral("__edge"));
    const auto outcome = rewriter.rewrite(EdgeRewriter::Route(route), body, encoding, edgeValue());
    QCOMPARE(int(outcome.action), action);
    QCOMPARE(outcome.droppedClientValue, dropped);
    if (outcome.action == EdgeRewriter::Outcome::Action::Rewritten)
        QCOMPARE(outcome.body, expected);
    else if (outcome.action == EdgeRewriter::Outcome::Action::Refuse)
        QCOMPARE(QByteArray::number(outcome.status), expected);
    else
        QVERIFY(outcome.body.isEmpty());
}

void TstEdgeProxy::schemaRequiresObjectNamespace()
{
    auto schema = ClientDataSchema::fromJson(QJsonObject{{"userId", "string"}, {"__edge", "object"}});
    QVERIFY(schema.ok());
    QVERIFY(schema->validate(QJsonObject{{"userId", "u"}, {"__edge", QJsonObject{{"botScore", 3}}}}).ok());
    QVERIFY(schema->validate(QJsonObject{{"userId", "u"}, {"__edge", QJsonObject{}}}).ok());
    const auto missing = schema->validate(QJsonObject{{"userId", "u"}});
    QVERIFY(!missing.ok());
    QVERIFY2(missing.error().message.contains("__edge must be object (got missing)"), qPrintable(missing.error().message));
    QVERIFY(!schema->validate(QJsonObject{{"userId", "u"}, {"__edge", "forged"}}).ok());
    QVERIFY(!schema->validate(QJsonObject{{"userId", "u"}, {"__edge", QJsonArray{}}}).ok());
}

// ---- through the proxy, in front of sessionscope-server ---------------------------

namespace {

// chat-agent at a version that requires the namespace, answering at once.
bool deployEdgeVersion(TestServer &server)
{
    const TestJson version = {{"task", "chat-agent"},
                              {"version",
                               {{"clientDataSchema", {{"userId", "string"}, {"__edge", "object"}}},
                                {"reply", {{"mode", "echo"}, {"chunksPerSecond", 0}}}}}};
    const HttpResponse r = server.client().postJson("/api/v1/deployments", version);
    if (r.status != 201)
        qWarning("deploy: %d %s", r.status, r.body.constData());
    return r.status == 201;
}

TestJson createBody(const QString &externalId, const TestJson &metadata)
{
    return TestJson{{"type", "chat.agent"},
                    {"externalId", externalId.toStdString()},
                    {"taskIdentifier", "chat-agent"},
                    {"triggerConfig",
                     {{"basePayload", {{"chatId", externalId.toStdString()}, {"trigger", "preload"}, {"metadata", metadata}}}}}};
}

QByteArray messageBody(const QString &text, const TestJson &metadata)
{
    static int n = 0;
    const TestJson chunk = {
        {"kind", "message"},
        {"payload",
         {{"chatId", "c"},
          {"trigger", "submit-message"},
          {"message",
           {{"id", "u" + std::to_string(++n)}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", text.toStdString()}}}}}},
          {"metadata", metadata}}}};
    return QByteArray::fromStdString(chunk.dump());
}

// The records of the turn that answers `inSeq` (up to its turn-complete), from `out`.
QList<SseTestRecord> turnFor(SseTestClient &out, qint64 inSeq)
{
    QList<SseTestRecord> turn;
    const bool done = out.waitFor(
        [&] {
            for (const SseTestRecord &r : out.records()) {
                if (isControl(r, "turn-complete") && headerOf(r, "session-in-event-id").toLongLong() >= inSeq)
                    return true;
            }
            return false;
        },
        kWaitMs);
    if (!done)
        return turn;
    // The records after the previous turn-complete.
    qsizetype start = 0;
    qsizetype end = 0;
    for (qsizetype i = 0; i < out.records().size(); ++i) {
        const SseTestRecord &r = out.records().at(i);
        if (!isControl(r, "turn-complete"))
            continue;
        if (headerOf(r, "session-in-event-id").toLongLong() >= inSeq) {
            end = i;
            break;
        }
        start = i + 1;
    }
    for (qsizetype i = start; i <= end; ++i) {
        const SseTestRecord &r = out.records().at(i);
        if (!(r.headers.size() && r.headers.first().first.isEmpty())) // commands (trim) are not the turn's
            turn << r;
    }
    return turn;
}

QString textOf(const QList<SseTestRecord> &turn)
{
    QString text;
    for (const SseTestRecord &r : turn) {
        const TestJson body = parseJson(r.body);
        if (body.is_object() && body.contains("data") && body["data"].value("type", "") == "text-delta")
            text += QString::fromStdString(body["data"].value("delta", ""));
    }
    return text;
}

QJsonObject agentMetadataOf(SessionServer &server, const QString &session)
{
    auto row = server.sessions().session(session);
    if (!row)
        return {};
    auto run = server.sessions().run(row->currentRunId);
    if (!run || !run->metadata)
        return {};
    return QJsonDocument::fromJson(*run->metadata).object().value("agent").toObject();
}

} // namespace

void TstEdgeProxy::forgedValueNeverReachesAgent()
{
    auto signalsFile = EdgeSignals::fromJson(
        R"({"static":{"edge":"test"},"fromHeaders":{"botScore":{"header":"x-bot-score","type":"number"}},"clientAddress":"ip"})");
    QVERIFY(signalsFile.ok());
    ProxiedServer edge;
    QVERIFY(edge.start(*signalsFile));
    TestServer &server = edge.server;
    QVERIFY(deployEdgeVersion(server));
    HttpTestClient viaProxy = edge.viaProxy();

    // Create through the proxy with a forged value (and a bot score header).
    const TestJson forged = {{"trusted", true}, {"botScore", 100}};
    const HttpResponse created = viaProxy.postJson(
        "/api/v1/sessions", createBody("edge-forged", {{"userId", "ada"}, {"__edge", forged}}), {{"X-Bot-Score", "87"}});
    QCOMPARE(created.status, 201);
    const TestJson expectedAtCreate = {{"edge", "test"}, {"botScore", 87}, {"ip", "127.0.0.1"}};
    QCOMPARE_JSON(created.json()["triggerConfig"]["basePayload"]["metadata"],
                  (TestJson{{"userId", "ada"}, {"__edge", expectedAtCreate}}));
    // What the backend stored, read directly.
    const HttpResponse stored = server.client().get("/api/v1/sessions/edge-forged");
    QCOMPARE(stored.status, 200);
    QCOMPARE_JSON(stored.json()["triggerConfig"]["basePayload"]["metadata"]["__edge"], expectedAtCreate);
    // The run was booted with the edge's value too.
    auto run = server.server().sessions().run(QString::fromStdString(created.json().value("runId", "")));
    QVERIFY(run.ok());
    QCOMPARE(run->payloadObject().value("metadata").toObject().value("__edge").toObject().value("edge").toString(),
             QStringLiteral("test"));

    SseTestClient out(server.base(), "/realtime/v1/sessions/edge-forged/out",
                      {{"Authorization", kBearer}, {"Timeout-Seconds", "60"}});
    out.open();
    QVERIFY(out.waitForHead());

    // A message through the proxy with another forged value.
    const HttpResponse appended =
        viaProxy.post("/realtime/v1/sessions/edge-forged/in/append",
                      messageBody("hello edge", {{"userId", "ada"}, {"__edge", "forged-as-a-string"}}),
                      {{"X-Bot-Score", "12.5"}, {"Content-Type", "application/json"}});
    QCOMPARE(appended.status, 200);
    const qint64 inSeq = appended.json().value("seq", qint64(-1));
    QVERIFY(inSeq >= 0);

    const HttpResponse inRecords = server.client().get("/realtime/v1/sessions/edge-forged/in/records");
    QCOMPARE(inRecords.status, 200);
    const TestJson records = inRecords.json()["records"];
    QVERIFY(records.is_array() && !records.empty());
    const TestJson chunk = inChunk(records.back());
    QCOMPARE_JSON(chunk["payload"]["metadata"],
                  (TestJson{{"userId", "ada"}, {"__edge", {{"edge", "test"}, {"botScore", 12.5}, {"ip", "127.0.0.1"}}}}));
    QVERIFY(chunk["payload"]["message"]["parts"][0]["text"] == "hello edge");

    // The agent took the turn (the schema needs an object under __edge) and answered.
    const QList<SseTestRecord> turn = turnFor(out, inSeq);
    QVERIFY2(!turn.isEmpty(), "no turn-complete for the message");
    QCOMPARE(textOf(turn), QStringLiteral("You said: hello edge"));
    QVERIFY2(!agentMetadataOf(server.server(), "edge-forged").contains("lastError"),
             qPrintable(agentMetadataOf(server.server(), "edge-forged").value("lastError").toString()));
}

void TstEdgeProxy::bypassFailsAtAgentBoundary()
{
    ProxiedServer edge;
    QVERIFY(edge.start());
    TestServer &server = edge.server;
    QVERIFY(deployEdgeVersion(server));
    HttpTestClient viaProxy = edge.viaProxy();

    QCOMPARE(viaProxy.postJson("/api/v1/sessions", createBody("edge-bypass", {{"userId", "ada"}})).status, 201);
    SseTestClient out(server.base(), "/realtime/v1/sessions/edge-bypass/out",
                      {{"Authorization", kBearer}, {"Timeout-Seconds", "60"}});
    out.open();
    QVERIFY(out.waitForHead());

    // Through the proxy: answered.
    HttpResponse r = viaProxy.post("/realtime/v1/sessions/edge-bypass/in/append", messageBody("one", {{"userId", "ada"}}));
    QCOMPARE(r.status, 200);
    QList<SseTestRecord> turn = turnFor(out, r.json().value("seq", qint64(-1)));
    QCOMPARE(textOf(turn), QStringLiteral("You said: one"));

    // Straight to the backend, without the namespace: 200 on the wire, then an
    // empty turn (only turn-complete), and the reason recorded on the run.
    r = server.client().post("/realtime/v1/sessions/edge-bypass/in/append", messageBody("two", {{"userId", "ada"}}));
    QCOMPARE(r.status, 200);
    const qint64 bypassSeq = r.json().value("seq", qint64(-1));
    turn = turnFor(out, bypassSeq);
    QCOMPARE(turn.size(), 1);
    QVERIFY(isControl(turn.first(), "turn-complete"));
    const QString lastError = agentMetadataOf(server.server(), "edge-bypass").value("lastError").toString();
    QVERIFY2(lastError.contains("__edge must be object (got missing)"), qPrintable(lastError));
}

void TstEdgeProxy::sseThroughProxyStreamsEveryRecord()
{
    ProxiedServer edge(false);
    QVERIFY(edge.start());
    TestServer &server = edge.server;
    const auto &proxy = edge.proxy;
    const TestJson created = server.createSession("edge-sse");
    QVERIFY(created.contains("id"));

    const QList<TestHeader> headers{{"Authorization", kBearer}, {"Timeout-Seconds", "120"}};
    SseTestClient direct(server.base(), "/realtime/v1/sessions/edge-sse/out", headers);
    SseTestClient proxied(proxy->baseUrl(), "/realtime/v1/sessions/edge-sse/out", headers);
    direct.open();
    proxied.open();
    QVERIFY(direct.waitForHead());
    QVERIFY(proxied.waitForHead());
    QCOMPARE(proxied.status(), 200);
    QCOMPARE(proxied.header("X-Stream-Version"), QByteArray("v2"));
    QCOMPARE(proxied.header("Content-Type"), direct.header("Content-Type"));
    QCOMPARE(proxied.header("Transfer-Encoding"), QByteArray("chunked"));

    // Arrival time of every record at each client.
    QElapsedTimer clock;
    clock.start();
    QList<qint64> directAt;
    QList<qint64> proxiedAt;
    connect(&direct, &SseTestClient::recordsArrived, this, [&] {
        while (directAt.size() < direct.records().size())
            directAt << clock.nsecsElapsed();
    });
    connect(&proxied, &SseTestClient::recordsArrived, this, [&] {
        while (proxiedAt.size() < proxied.records().size())
            proxiedAt << clock.nsecsElapsed();
    });

    // One record at a time: each must arrive through the proxy before the next
    // is written (a buffering proxy would hold them until the stream ends).
    constexpr int kRecords = 1000;
    QElapsedTimer total;
    total.start();
    for (int i = 0; i < kRecords; ++i) {
        const QByteArray body = R"({"data":{"type":"text-delta","id":"t","delta":"w)" + QByteArray::number(i) +
                                R"( "},"id":"p)" + QByteArray::number(i) + "\"}";
        const HttpResponse r = server.appendOut("edge-sse", body, {}, "[]");
        QCOMPARE(r.status, 200);
        QVERIFY2(proxied.waitForRecords(i + 1, 5000), qPrintable(QStringLiteral("record %1 did not arrive").arg(i)));
        QVERIFY(direct.waitForRecords(i + 1, 5000));
        QVERIFY(total.elapsed() < 100'000);
    }
    QCOMPARE(proxied.records().size(), kRecords);
    for (int i = 0; i < kRecords; ++i) {
        QCOMPARE(proxied.records().at(i).seq, qint64(i));
        QCOMPARE(proxied.records().at(i).body, direct.records().at(i).body);
    }
    QVERIFY(proxied.errors().isEmpty());

    QList<double> added;
    for (int i = 0; i < kRecords; ++i)
        added << double(proxiedAt.at(i) - directAt.at(i)) / 1e6;
    qInfo("edge proxy SSE: %d records, added latency p50 %.3f ms, p99 %.3f ms, max %.3f ms (vs the direct "
          "subscriber, same process)",
          kRecords, percentile(added, 0.50), percentile(added, 0.99), percentile(added, 1.0));
}

// ---- in front of scripted upstreams --------------------------------------------------

void TstEdgeProxy::slowUpstreamKeepsStreaming()
{
    ScriptedUpstream upstream;
    const QByteArray head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Stream-Version: v2\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n";
    QList<ScriptedUpstream::Step> steps{{0, head}};
    // Events dribbled every 300 ms, one of them split mid-line over two writes.
    for (int i = 0; i < 5; ++i)
        steps.append({300, chunk("event: ping\ndata: {\"n\":" + QByteArray::number(i) + "}\n\n")});
    steps.append({300, chunk("event: ping\ndata: {\"n\"")});
    steps.append({300, chunk(":5}\n\n")});
    steps.append({300, chunk("data: [DONE]\n\n") + "0\r\n\r\n"});
    upstream.setScript(steps, false);
    auto proxy = startProxy(upstream.url());

    SseTestClient client(proxy->baseUrl(), "/realtime/v1/sessions/slow/out", {{"Authorization", kBearer}});
    client.open();
    QVERIFY(client.waitForHead(5000));
    QCOMPARE(client.header("X-Stream-Version"), QByteArray("v2"));
    // Each event reaches the client while the upstream still holds the next
    // (the head is write 1, event i write i + 2).
    for (int i = 0; i < 5; ++i) {
        QVERIFY2(client.waitFor([&] { return client.events().size() > i; }, 5000), qPrintable(QString::number(i)));
        QVERIFY2(upstream.stepsWritten == i + 2, qPrintable(QStringLiteral("event %1 arrived only after %2 writes")
                                                                .arg(i)
                                                                .arg(upstream.stepsWritten)));
    }
    // Half an event is relayed as it is, before its other half exists.
    QVERIFY(client.waitFor([&] { return client.body().endsWith("data: {\"n\""); }, 5000));
    QCOMPARE(upstream.stepsWritten, 7);
    QVERIFY(client.waitForEnd(5000));
    QVERIFY(client.ended());
    QCOMPARE(client.events().size(), 7);
    QCOMPARE(client.events().at(5).data, QByteArray("{\"n\":5}"));
    QVERIFY(client.sawDone());
}

void TstEdgeProxy::upstreamCutMidStream()
{
    ScriptedUpstream upstream;
    upstream.setScript({{0, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                chunk("event: ping\ndata: {}\n\n")},
                        {100, QByteArray()}},
                       true);
    auto proxy = startProxy(upstream.url());
    SseTestClient client(proxy->baseUrl(), "/realtime/v1/sessions/cut/out", {});
    client.open();
    // What arrived is delivered, and the response does not hang. (Qt 6.4's
    // QNetworkAccessManager reports some drops of a chunked answer as a clean
    // end, so whether the client sees a cut or an end is Qt's to decide.)
    QVERIFY(client.waitFor([&] { return client.events().size() == 1; }, 5000));
    QVERIFY(client.waitFor([&] { return client.closed() || client.ended(); }, 5000));

    // A body that stops short of its Content-Length: the client's connection
    // closes after what arrived, without the rest.
    upstream.setScript({{0, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part"}}, true);
    QTcpSocket raw;
    raw.connectToHost(QHostAddress::LocalHost, proxy->port());
    raw.write("GET /short HTTP/1.1\r\nHost: x\r\n\r\n");
    QByteArray seen;
    connect(&raw, &QTcpSocket::readyRead, this, [&] { seen += raw.readAll(); });
    QVERIFY(HttpTestClient::spinUntil([&] { return raw.state() == QAbstractSocket::UnconnectedState; }, 5000));
    seen += raw.readAll();
    QVERIFY2(seen.startsWith("HTTP/1.1 200 OK\r\n"), seen.constData());
    QVERIFY2(seen.contains("\r\nContent-Length: 100\r\n"), seen.constData());
    QVERIFY2(seen.endsWith("\r\n\r\nonly a part"), seen.constData());
}

void TstEdgeProxy::statusCodesAndHeadersPassThrough()
{
    ProxiedServer edge;
    QVERIFY(edge.start());
    HttpTestClient direct = edge.direct();
    HttpTestClient viaProxy = edge.viaProxy();

    // The backend's answers, byte for byte: 404, 401, 400, 413 (the append cap).
    struct Case
    {
        QByteArray method;
        QByteArray path;
        QByteArray body;
        QByteArray bearer;
        int status;
    };
    const QByteArray big(1024 * 1024 + 10, 'x');
    const QList<Case> cases{
        {"GET", "/api/v1/sessions/session_nope", {}, kKey, 404},
        {"GET", "/api/v1/sessions", {}, "wrong", 401},
        {"GET", "/realtime/v1/sessions/x/out", {}, {}, 401},
        {"POST", "/api/v1/sessions", "{\"type\":3}", kKey, 400},
        {"POST", "/realtime/v1/sessions/anything/in/append", big, kKey, 413},
        {"DELETE", "/api/v1/sessions", {}, kKey, 405},
        {"GET", "/healthcheck", {}, {}, 200},
    };
    for (const Case &c : cases) {
        direct.setAuthorization(c.bearer);
        viaProxy.setAuthorization(c.bearer);
        const HttpResponse d = direct.request(c.method, c.path, c.body);
        const HttpResponse p = viaProxy.request(c.method, c.path, c.body);
        const QString what = QString::fromLatin1(c.method + ' ' + c.path);
        QVERIFY2(d.status == c.status, qPrintable(what + ": direct " + QString::number(d.status)));
        QVERIFY2(p.status == c.status, qPrintable(what + ": proxied " + QString::number(p.status)));
        QCOMPARE(p.body, d.body);
        QCOMPARE(p.header("Content-Type"), d.header("Content-Type"));
        QCOMPARE(p.header("x-sessionscope-version"), d.header("x-sessionscope-version"));
        QCOMPARE(p.header("Allow"), d.header("Allow"));
    }

    // An upstream with an unusual status, repeated headers and a redirect: all relayed.
    ScriptedUpstream odd;
    auto oddProxy = startProxy(odd.url());
    HttpTestClient viaOdd(oddProxy->baseUrl());
    odd.setScript({{0, "HTTP/1.1 418 I'm a teapot\r\nX-Custom: one\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                       "Content-Length: 5\r\n\r\nshort"}},
                  false);
    HttpResponse r = viaOdd.get("/teapot");
    QCOMPARE(r.status, 418);
    QCOMPARE(r.body, QByteArray("short"));
    QCOMPARE(r.header("X-Custom"), QByteArray("one"));
    QCOMPARE(r.header("Content-Length"), QByteArray("5"));
    QList<QByteArray> cookies;
    for (const auto &h : r.headers) {
        if (h.first.compare("set-cookie", Qt::CaseInsensitive) == 0)
            cookies << h.second;
    }
    QCOMPARE(cookies, (QList<QByteArray>{"a=1", "b=2"}));

    odd.setScript({{0, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"}},
                  false);
    r = viaOdd.get("/moved");
    QCOMPARE(r.status, 302); // not followed
    QCOMPARE(r.header("Location"), QByteArray("http://127.0.0.1:1/elsewhere"));

    odd.setScript({{0, "HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n"}}, false);
    r = viaOdd.request("PATCH", "/nothing", "{}");
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("X-Empty"), QByteArray("yes"));
}

void TstEdgeProxy::requestReachesUpstreamUntouched()
{
    ScriptedUpstream upstream;
    upstream.setScript({{0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}}, false);
    // A path prefix on the upstream URL is kept in front of every path.
    QUrl base = upstream.url();
    base.setPath(QStringLiteral("/prefix/"));
    auto proxy = startProxy(base);
    HttpTestClient client(proxy->baseUrl(), kKey);

    // Not a rewritten route: the body and headers arrive as sent.
    const QByteArray body = "{\"kind\":\"message\",\"payload\":{\"metadata\":{\"__edge\":\"not rewritten here\"}}}";
    HttpResponse r = client.request("POST", "/realtime/v1/sessions/a%2Fb/out/append?x=1&y=%20z", body,
                                    {{"X-Part-Id", "part-1"}, {"X-Custom", "a"}, {"X-Custom", "b"},
                                     {"Content-Type", "text/plain"}, {"Connection", "keep-alive, X-Hop"},
                                     {"X-Hop", "dropped"}, {"Accept-Encoding", "gzip"}});
    QCOMPARE(r.status, 200);
    const QByteArray seen = upstream.request;
    QVERIFY2(seen.startsWith("POST /prefix/realtime/v1/sessions/a%2Fb/out/append?x=1&y=%20z HTTP/1.1\r\n"),
             seen.constData());
    QVERIFY(seen.endsWith("\r\n\r\n" + body));
    const QByteArray lower = seen.toLower();
    QVERIFY(lower.contains("\r\nauthorization: " + kBearer.toLower() + "\r\n"));
    QVERIFY(lower.contains("\r\nx-part-id: part-1\r\n"));
    QVERIFY(lower.contains("\r\nx-custom: a, b\r\n"));
    QVERIFY(lower.contains("\r\ncontent-type: text/plain\r\n"));
    QVERIFY(lower.contains("\r\naccept-encoding: gzip\r\n"));
    QVERIFY(!lower.contains("x-hop"));
    QVERIFY(!lower.contains("cache-control") && !lower.contains("pragma") && !lower.contains("cookie"));
    QVERIFY(lower.contains("\r\ncontent-length: " + QByteArray::number(body.size()) + "\r\n"));

    // A rewritten route: only the namespace changed.
    r = client.request("POST", "/realtime/v1/sessions/s/in/append",
                       R"({"kind":"message","payload":{"metadata":{"userId":"u","__edge":"forged"}}})",
                       {{"Content-Type", "application/json"}});
    QCOMPARE(r.status, 200);
    QVERIFY(upstream.request.endsWith(
        "\r\n\r\n" R"({"kind":"message","payload":{"metadata":{"userId":"u","__edge":{"edge":"test","trusted":true}}}})"));
    QVERIFY(upstream.request.startsWith("POST /prefix/realtime/v1/sessions/s/in/append HTTP/1.1\r\n"));
    // No body, no invented Content-Type.
    r = client.request("POST", "/api/v1/sessions/s/close", {});
    QCOMPARE(r.status, 200);
    QVERIFY2(!upstream.request.toLower().contains("content-type"), upstream.request.constData());
}

void TstEdgeProxy::malformedBodies()
{
    ProxiedServer edge;
    QVERIFY(edge.start());
    HttpTestClient direct = edge.direct();
    HttpTestClient viaProxy = edge.viaProxy();

    // Malformed without the key: the backend gives its usual answer.
    const QByteArray broken = "{\"type\":\"chat.agent\",";
    const HttpResponse d = direct.post("/api/v1/sessions", broken);
    const HttpResponse p = viaProxy.post("/api/v1/sessions", broken);
    QCOMPARE(d.status, 400);
    QCOMPARE(p.status, d.status);
    QCOMPARE(p.body, d.body);

    edge.server.createSession("edge-malformed");
    HttpResponse r = viaProxy.post("/realtime/v1/sessions/edge-malformed/in/append", "not json at all");
    QCOMPARE(r.status, 200); // appends are stored as sent; the agent judges them
    const TestJson records = direct.get("/realtime/v1/sessions/edge-malformed/in/records").json()["records"];
    QVERIFY(records.is_array() && records.size() == 1);
    QVERIFY(records[0]["data"] == "not json at all");

    // Malformed and naming the key: the proxy cannot vouch for it and refuses.
    r = viaProxy.post("/realtime/v1/sessions/edge-malformed/in/append",
                      R"({"kind":"message","payload":{"metadata":{"__edge":{"trusted":true}}}})" "}");
    QCOMPARE(r.status, 400);
    QCOMPARE_JSON(r.json(), (TestJson{{"ok", false}, {"error", "Invalid JSON"}}));
    r = viaProxy.post("/realtime/v1/sessions/edge-malformed/in/append", "\x1f\x8b\x08", {{"Content-Encoding", "gzip"}});
    QCOMPARE(r.status, 415);
    QCOMPARE(direct.get("/realtime/v1/sessions/edge-malformed/in/records").json()["records"].size(), size_t(1));
}

void TstEdgeProxy::oversizedBodies()
{
    ProxiedServer edge;
    QVERIFY(edge.start());
    HttpTestClient viaProxy = edge.viaProxy();
    // Over the proxy's own 2 MiB bound: 413 before the body is read, in the
    // shape sessionscope-server uses.
    const QByteArray huge(2 * 1024 * 1024 + 1, 'x');
    HttpResponse r = viaProxy.post("/realtime/v1/sessions/s/in/append", huge);
    QCOMPARE(r.status, 413);
    QCOMPARE_JSON(r.json(), (TestJson{{"ok", false}, {"error", "Request body too large"}}));
    r = viaProxy.post("/api/v1/sessions", huge);
    QCOMPARE(r.status, 413);
    QCOMPARE_JSON(r.json(), (TestJson{{"error", "Request body too large"}}));
    // Between the backend's caps and 2 MiB: rewritten, and the backend answers.
    const QByteArray big = R"({"type":"chat.agent","pad":")" + QByteArray(40 * 1024, 'p') + "\"}";
    r = viaProxy.post("/api/v1/sessions", big);
    QCOMPARE(r.status, 413);
    QCOMPARE_JSON(r.json(), (TestJson{{"error", "Request body too large"}}));
}

void TstEdgeProxy::corsPreflight()
{
    ProxiedServer edge;
    QVERIFY(edge.start(EdgeSignals::fixed(edgeValue()), {QStringLiteral("https://app.example")}));
    TestServer &server = edge.server;
    HttpTestClient viaProxy(edge.proxy->baseUrl());

    HttpResponse r = viaProxy.request("OPTIONS", "/realtime/v1/sessions/s/in/append", {},
                                      {{"Origin", "https://app.example"},
                                       {"Access-Control-Request-Method", "POST"},
                                       {"Access-Control-Request-Headers", "authorization, content-type, x-part-id"}});
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("Access-Control-Allow-Origin"), QByteArray("https://app.example"));
    QCOMPARE(r.header("Access-Control-Allow-Headers"), QByteArray("authorization, content-type, x-part-id"));
    QVERIFY(r.header("Access-Control-Allow-Methods").contains("POST"));
    QCOMPARE(r.header("Vary"), QByteArray("Origin"));

    r = viaProxy.request("OPTIONS", "/api/v1/sessions", {},
                         {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    QCOMPARE(r.status, 403);
    QVERIFY(!r.hasHeader("Access-Control-Allow-Origin"));

    // Actual requests: the configured origin replaces the upstream's "*".
    r = viaProxy.get("/healthcheck", {{"Origin", "https://app.example"}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Access-Control-Allow-Origin"), QByteArray("https://app.example"));
    r = viaProxy.get("/healthcheck", {{"Origin", "https://evil.example"}});
    QCOMPARE(r.status, 200);
    QVERIFY(!r.hasHeader("Access-Control-Allow-Origin"));

    // Without --cors-origin the upstream answers its own preflights.
    auto plain = startProxy(server.base());
    r = HttpTestClient(plain->baseUrl())
            .request("OPTIONS", "/api/v1/sessions", {},
                     {{"Origin", "https://any.example"}, {"Access-Control-Request-Method", "POST"}});
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("Access-Control-Allow-Origin"), QByteArray("https://any.example"));
    QCOMPARE(r.header("x-sessionscope-version"), QByteArray(SESSIONSCOPE_VERSION));
}

void TstEdgeProxy::upstreamDown()
{
    QTcpServer closed;
    QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
    const quint16 port = closed.serverPort();
    closed.close();
    auto proxy = startProxy(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)));
    HttpTestClient client(proxy->baseUrl(), kKey);
    HttpResponse r = client.get("/api/v1/sessions");
    QCOMPARE(r.status, 502);
    QVERIFY(QString::fromStdString(r.json().value("error", "")).startsWith("Bad gateway"));
    // The connection keeps serving: two requests pipelined on it, answered in order.
    const QByteArray two = client.requestBytes("GET", "/a", {}, {}) + client.requestBytes("POST", "/realtime/v1/sessions/s/in/append", "{}", {});
    const QList<HttpResponse> answers = client.raw(two, 2);
    QCOMPARE(answers.size(), 2);
    QCOMPARE(answers.at(0).status, 502);
    QCOMPARE(answers.at(1).status, 502);

    // An upstream that takes the request and never answers: 504 at the head timeout.
    ScriptedUpstream silent;
    silent.setScript({{10'000, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}}, false);
    EdgeProxyConfig slow;
    slow.upstream = silent.url();
    slow.namespaceKey = QStringLiteral("__edge");
    slow.upstreamHeadTimeoutMs = 300;
    EdgeProxy slowProxy(slow);
    QVERIFY(slowProxy.start().ok());
    r = HttpTestClient(slowProxy.baseUrl()).get("/hangs");
    QCOMPARE(r.status, 504);
    QVERIFY(QString::fromStdString(r.json().value("error", "")).startsWith("Gateway timeout"));

    EdgeProxyConfig bad;
    bad.upstream = QUrl(QStringLiteral("ftp://127.0.0.1/"));
    bad.namespaceKey = QStringLiteral("__edge");
    QVERIFY(!EdgeProxy::validate(bad).ok());
    bad.upstream = QUrl(QStringLiteral("http://user:pw@127.0.0.1/"));
    QVERIFY(!EdgeProxy::validate(bad).ok());
    bad.upstream = QUrl(QStringLiteral("http://127.0.0.1/"));
    bad.namespaceKey.clear();
    QVERIFY(!EdgeProxy::validate(bad).ok());
}

void TstEdgeProxy::manyStreamsDoNotStarveAppends()
{
    ProxiedServer edge(false);
    QVERIFY(edge.start());
    TestServer &server = edge.server;
    const auto &proxy = edge.proxy;
    server.createSession("edge-many");

    // More long streams than Qt opens connections per host and manager.
    std::vector<std::unique_ptr<SseTestClient>> streams;
    for (int i = 0; i < 3 * EdgeProxy::RequestsPerManager; ++i) {
        streams.push_back(std::make_unique<SseTestClient>(
            proxy->baseUrl(), "/realtime/v1/sessions/edge-many/out",
            QList<TestHeader>{{"Authorization", kBearer}, {"Timeout-Seconds", "60"}}));
        streams.back()->open();
    }
    for (auto &s : streams)
        QVERIFY(s->waitForHead(kWaitMs));
    QVERIFY(proxy->managerCount() >= 3);

    HttpTestClient viaProxy = edge.viaProxy();
    QElapsedTimer t;
    t.start();
    const HttpResponse r = viaProxy.post("/realtime/v1/sessions/edge-many/in/append", R"({"kind":"stop"})");
    QCOMPARE(r.status, 200);
    QVERIFY(t.elapsed() < 5000);
    server.appendOut("edge-many", R"({"data":{"type":"start"},"id":"x"})", {}, "[]");
    for (auto &s : streams)
        QVERIFY(s->waitForRecords(1, kWaitMs));

    // Clients that leave end their upstream streams; the overflow managers go.
    streams.clear();
    QVERIFY(HttpTestClient::spinUntil([&] { return server.server().subscriberCount() == 0; }, kWaitMs));
    QVERIFY(HttpTestClient::spinUntil([&] { return proxy->managerCount() == 1; }, kWaitMs));
}

void TstEdgeProxy::executable()
{
#ifndef SESSIONSCOPE_SERVER_BIN
    QSKIP("built without the sessionscope-server executable");
#else
    TestServer server;
    QVERIFY(server.start());

    const auto runToExit = [](const QStringList &args) {
        QProcess p;
        p.start(QStringLiteral(SESSIONSCOPE_SERVER_BIN), args);
        p.waitForFinished(kWaitMs);
        return std::make_pair(p.exitCode(), QString::fromUtf8(p.readAllStandardError()));
    };
    const QString upstream = server.base().toString();
    auto [code, err] = runToExit({"--edge-proxy", "--upstream", upstream, "--signals", "static:{}"});
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("--edge-proxy needs --namespace"), qPrintable(err));
    std::tie(code, err) = runToExit({"--upstream", upstream});
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("--upstream is an --edge-proxy option"), qPrintable(err));
    std::tie(code, err) =
        runToExit({"--edge-proxy", "--upstream", upstream, "--namespace", "__edge", "--signals", "static:{oops"});
    QCOMPARE(code, 2);
    QVERIFY2(err.contains("not JSON"), qPrintable(err));

    QProcess proxy;
    proxy.start(QStringLiteral(SESSIONSCOPE_SERVER_BIN),
                {"--edge-proxy", "--upstream", upstream, "--namespace", "__edge", "--signals",
                 R"(static:{"edge":"binary"})", "--port", "0", "--secret-key", "ignored"});
    QVERIFY(proxy.waitForStarted(kWaitMs));
    QVERIFY(HttpTestClient::spinUntil([&] { return proxy.canReadLine(); }, kWaitMs));
    const QByteArray line = proxy.readLine().trimmed();
    QVERIFY2(line.startsWith("sessionscope-server listening on http://127.0.0.1:"), line.constData());
    const QUrl base(QString::fromUtf8(line.mid(line.lastIndexOf(' ') + 1)));
    HttpTestClient viaProxy(base, kKey);
    TestJson body = TestServer::sessionBody("edge-binary");
    body["triggerConfig"]["basePayload"]["metadata"] = {{"__edge", "forged"}};
    const HttpResponse r = viaProxy.postJson("/api/v1/sessions", body);
    QCOMPARE(r.status, 201);
    QCOMPARE_JSON(r.json()["triggerConfig"]["basePayload"]["metadata"], (TestJson{{"__edge", {{"edge", "binary"}}}}));
    proxy.terminate();
    QVERIFY(proxy.waitForFinished(kWaitMs));
    QCOMPARE(proxy.exitCode(), 0);
    const QString log = QString::fromUtf8(proxy.readAllStandardError());
    QVERIFY2(log.contains("edge proxy to " + upstream), qPrintable(log));
    QVERIFY2(log.contains("--secret-key is not used"), qPrintable(log));
#endif
}

void TstEdgeProxy::cliSendsInThroughProxyAndReadsOutDirectly()
{
#ifndef SESSIONSCOPE_CLI_BIN
    QSKIP("built without sessionscope-cli");
#else
    ProxiedServer edge;
    QVERIFY(edge.start());
    QVERIFY(deployEdgeVersion(edge.server));
    QCOMPARE(edge.viaProxy().postJson("/api/v1/sessions", createBody("edge-cli", {{"userId", "ada"}})).status, 201);

    QTemporaryDir config;
    // The servers run on this thread: the CLI runs while the event loop spins.
    const auto cli = [&](const QStringList &args) {
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("XDG_CONFIG_HOME", config.path()); // no saved profiles
        env.insert("SESSIONSCOPE_SERVER", edge.proxy->baseUrl().toString());
        env.insert("SESSIONSCOPE_KEY", QString::fromLatin1(kKey));
        process.setProcessEnvironment(env);
        process.start(QStringLiteral(SESSIONSCOPE_CLI_BIN), args);
        if (!HttpTestClient::spinUntil([&] { return process.state() == QProcess::NotRunning; }, 30000)) {
            process.kill();
            process.waitForFinished(1000);
        }
        return std::make_pair(process.exitCode(), QString::fromUtf8(process.readAll() + process.readAllStandardError()));
    };
    const QStringList send{"send", "edge-cli", "hi", "--client-data", R"({"userId":"ada","__edge":{"forged":true}})"};

    // `.out` at a closed port: the send cannot follow its turn, so the out
    // family does not go through the proxy.
    QTcpServer closed;
    QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
    const QString closedUrl = QStringLiteral("http://127.0.0.1:%1").arg(closed.serverPort());
    closed.close();
    auto [code, out] = cli(send + QStringList{"--endpoint", "out=" + closedUrl, "--timeout", "3"});
    QVERIFY2(code != 0, qPrintable(out));

    std::tie(code, out) = cli(send + QStringList{"--endpoint", "out=" + edge.server.base().toString()});
    QVERIFY2(code == 0, qPrintable(out));
    QVERIFY2(out.contains(R"("answer":"You said: hi")"), qPrintable(out));

    std::tie(code, out) = cli(send + QStringList{"--endpoint", "outgoing=" + closedUrl});
    QCOMPARE(code, 2);
    QVERIFY2(out.contains("--endpoint is FAMILY=URL"), qPrintable(out));
#endif
}

QTEST_GUILESS_MAIN(TstEdgeProxy)
#include "tst_edgeproxy.moc"
