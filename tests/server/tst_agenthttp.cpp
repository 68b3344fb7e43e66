// End to end over HTTP on loopback: a real SessionServer with the agent
// runtime, driven the way a client drives Trigger.dev (REST, `.in` appends,
// one long SSE subscription on `.out`).
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"
#include "server/agent/agentruntime.h"
#include "server/agent/deploymentregistry.h"
#include "server/sessionserver.h"
#include "server/tokenservice.h"
#include "tst_agentsupport.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace sessionscope;
using namespace sessionscope::agenttest;

namespace {

constexpr int kWaitMs = 15000;
const QByteArray kSecret = "tr_dev_agenthttpsecretkey0123456789";

struct HttpReply
{
    int status = 0;
    QByteArray body;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

// A plain HTTP client: every call waits for its answer (bounded), the server
// runs on the same event loop.
class Client
{
public:
    explicit Client(QUrl base) : m_base(std::move(base)) {}

    QNetworkReply *start(const QByteArray &method, const QString &path, const QJsonObject &body = {},
                         const QByteArray &bearer = kSecret)
    {
        QNetworkRequest request(m_base.resolved(QUrl(path)));
        request.setRawHeader("Authorization", "Bearer " + bearer);
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        const QByteArray data = body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson(QJsonDocument::Compact);
        return m_nam.sendCustomRequest(request, method, data);
    }

    static HttpReply finish(QNetworkReply *reply)
    {
        if (!reply->isFinished()) {
            QEventLoop loop;
            QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
            QTimer::singleShot(kWaitMs, &loop, &QEventLoop::quit);
            loop.exec();
        }
        HttpReply out;
        out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        out.body = reply->readAll();
        reply->deleteLater();
        return out;
    }

    HttpReply call(const QByteArray &method, const QString &path, const QJsonObject &body = {},
                   const QByteArray &bearer = kSecret)
    {
        return finish(start(method, path, body, bearer));
    }

    QNetworkAccessManager &nam() { return m_nam; }
    const QUrl &base() const { return m_base; }

private:
    QUrl m_base;
    QNetworkAccessManager m_nam;
};

// One SSE subscription on `.out`, kept open for the whole test.
class OutStream : public QObject
{
public:
    OutStream(Client &client, const QString &session, const QByteArray &bearer, qint64 afterSeq = -1)
    {
        QNetworkRequest request(client.base().resolved(QUrl("/realtime/v1/sessions/" + session + "/out")));
        request.setRawHeader("Authorization", "Bearer " + bearer);
        request.setRawHeader("Accept", "text/event-stream");
        request.setRawHeader("Timeout-Seconds", "600");
        if (afterSeq >= 0)
            request.setRawHeader("Last-Event-ID", QByteArray::number(afterSeq));
        m_reply = client.nam().get(request);
        connect(m_reply, &QNetworkReply::readyRead, this, [this] {
            QList<SseEvent> events;
            m_parser.feed(m_reply->readAll(), events);
            for (const SseEvent &event : events) {
                const S2Event decoded = m_decoder.decode(event);
                records += decoded.records;
                if (decoded.type == S2Event::Type::Done)
                    ++dones;
            }
        });
    }
    ~OutStream() override
    {
        if (m_reply) {
            m_reply->abort();
            m_reply->deleteLater();
        }
    }

    // Still the one connection it started as.
    bool alive() const { return m_reply && !m_reply->isFinished() && dones == 0; }
    QByteArray streamVersion() const { return m_reply ? m_reply->rawHeader("X-Stream-Version") : QByteArray(); }

    QList<StreamRecord> records;
    int dones = 0;

private:
    QPointer<QNetworkReply> m_reply;
    SseParser m_parser;
    S2BatchDecoder m_decoder;
};

QJsonObject preloadSession(const QString &externalId, const QJsonObject &metadata, const QJsonObject &configExtras = {},
                           const QString &task = QStringLiteral("chat-agent"))
{
    QJsonObject config = configExtras;
    config.insert("basePayload", QJsonObject{{"chatId", externalId}, {"trigger", "preload"}, {"metadata", metadata}});
    return QJsonObject{{"type", "chat.agent"}, {"externalId", externalId}, {"taskIdentifier", task},
                       {"triggerConfig", config}};
}

} // namespace

class TestAgentHttp : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<SessionServer> m_server;
    AgentRuntime *m_runtime = nullptr; // the server's own
    std::unique_ptr<Client> m_client;
    QString m_dataDir;

    void startServer(double chunkRate = 0)
    {
        ServerConfig config;
        config.dataDir = m_dataDir;
        config.secretKey = QString::fromLatin1(kSecret);
        config.agentChunksPerSecond = chunkRate;
        m_server = std::make_unique<SessionServer>(config);
        QVERIFY(m_server->start().ok());
        m_runtime = m_server->agentRuntime();
        QVERIFY(m_runtime);
        m_client = std::make_unique<Client>(m_server->baseUrl());
    }

    void stopServer()
    {
        m_client.reset();
        m_runtime = nullptr;
        m_server.reset();
    }

    AgentRuntime &runtime() { return *m_runtime; }
    Client &http() { return *m_client; }

    // Creates a session; returns {id, runId, publicAccessToken}.
    QJsonObject create(const QJsonObject &body)
    {
        const HttpReply r = http().call("POST", "/api/v1/sessions", body);
        if (r.status != 201)
            qFatal("create session: %d %s", r.status, r.body.constData());
        return r.json();
    }

    qint64 append(const QString &session, const QJsonObject &chunk, const QByteArray &bearer)
    {
        const HttpReply r = http().call("POST", "/realtime/v1/sessions/" + session + "/in/append", chunk, bearer);
        if (r.status != 200)
            qFatal("append: %d %s", r.status, r.body.constData());
        return qint64(r.json().value("seq").toDouble(-1));
    }

    QJsonObject run(const QString &runId) { return http().call("GET", "/api/v3/runs/" + runId).json(); }

    // The audit rows, oldest first: "reason@version:status".
    QStringList audit(const QString &session)
    {
        QStringList out;
        const QJsonArray rows = http().call("GET", "/api/v1/sessions/" + session + "/runs").json().value("data").toArray();
        for (const QJsonValue &row : rows) {
            const QJsonObject o = row.toObject();
            const QJsonObject r = o.value("run").toObject();
            out.prepend(o.value("reason").toString() + "@" + r.value("version").toString() + ":" + r.value("status").toString());
        }
        return out;
    }

    QString currentRun(const QString &session)
    {
        return http().call("GET", "/api/v1/sessions/" + session).json().value("currentRunId").toString();
    }

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        m_dataDir = m_dir.filePath(QTest::currentTestFunction());
        startServer();
    }

    void cleanup() { stopServer(); }

    // The walk-through: v1 chat, a deploy that drops v1, the client moves to
    // v3, the agent hands over, and the single SSE subscription sees it all.
    void upgradeAcrossDeploy()
    {
        const QJsonObject created = create(preloadSession("e2e-upgrade", clientData("v1")));
        const QString session = created.value("id").toString();
        const QString firstRun = created.value("runId").toString();
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        const QString v1 = run(firstRun).value("version").toString();
        OutStream out(http(), "e2e-upgrade", token);

        const qint64 seq0 = append("e2e-upgrade", submit("hello v1", clientData("v1")), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QCOMPARE(out.streamVersion(), QByteArray("v2"));
        QCOMPARE(textOfTurn(out.records), QStringLiteral("You said: hello v1"));

        auto next = runtime().registry().deployBuiltin("chat-agent", "next");
        QVERIFY(next.ok());
        QVERIFY(!next->supportsProtocol("v1"));
        QCOMPARE(run(firstRun).value("version").toString(), v1); // pinned

        const qint64 seq1 = append("e2e-upgrade", submit("hello v3", clientData("v3")), token);
        QCOMPARE(seq1, seq0 + 1);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 2, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(kinds(out.records).last() == "cmd:trim", kWaitMs);

        QStringList expected = plainTurn();
        expected << "ctl:upgrade-required" << "start" << "start-step" << "data-history" << "reasoning-start"
                 << "reasoning-delta" << "reasoning-end" << "text-start" << "text-delta" << "text-end"
                 << "finish-step" << "finish" << "ctl:turn-complete" << "cmd:trim";
        QCOMPARE(folded(kinds(out.records)), expected);
        for (qsizetype i = 1; i < out.records.size(); ++i)
            QCOMPARE(out.records.at(i).seqNum, out.records.at(i - 1).seqNum + 1);

        const StreamRecord tc2 = controls(out.records, "turn-complete").last();
        QCOMPARE(tc2.header("session-in-event-id").value_or(""), QByteArray::number(seq1)); // the same .in seq
        const qint64 upgradeSeq = controls(out.records, "upgrade-required").first().seqNum;
        QCOMPARE(textOfTurn(out.records, upgradeSeq), QStringLiteral("You said: hello v3"));

        const QString secondRun = currentRun(session);
        QVERIFY(secondRun != firstRun);
        QCOMPARE(audit(session), (QStringList{"initial@" + v1 + ":COMPLETED", "upgrade@" + next->label + ":WAITING"}));
        const QJsonObject first = run(firstRun);
        QCOMPARE(first.value("status").toString(), QStringLiteral("COMPLETED"));
        QVERIFY(first.contains("finishedAt"));
        QCOMPARE(first.value("metadata").toObject().value("agent").toObject().value("upgradeRequested").toObject()
                     .value("successorRunId").toString(),
                 secondRun);
        const QJsonObject second = run(secondRun);
        QCOMPARE(second.value("payload").toObject().value("continuation").toBool(), true);
        QCOMPARE(second.value("payload").toObject().value("previousRunId").toString(), firstRun);

        // The refreshed token authorizes the new run and still the session.
        const QByteArray refreshed = tc2.header("public-access-token").value_or("");
        QCOMPARE(http().call("GET", "/api/v3/runs/" + secondRun, {}, refreshed).status, 200);
        QCOMPARE(append("e2e-upgrade", submit("still here", clientData("v3")), refreshed), seq1 + 1);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 3, kWaitMs);
        QVERIFY(out.alive()); // one subscription, never reconnected
    }

    void idleTimeoutContinuation()
    {
        const QJsonObject created = create(preloadSession("e2e-idle", clientData(), {{"idleTimeoutInSeconds", 1}}));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        const QString firstRun = created.value("runId").toString();
        OutStream out(http(), "e2e-idle", token);
        append("e2e-idle", submit("before", clientData()), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(run(firstRun).value("status").toString(), QStringLiteral("COMPLETED"), kWaitMs);

        const qint64 seq = append("e2e-idle", submit("after", clientData()), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 2, kWaitMs);
        QCOMPARE(controls(out.records, "turn-complete").last().header("session-in-event-id").value_or(""),
                 QByteArray::number(seq));
        const QJsonObject history = partData(out.records, "data-history");
        QCOMPARE(history.value("reason").toString(), QStringLiteral("continuation"));
        QCOMPARE(history.value("previousRunId").toString(), firstRun);
        QCOMPARE(history.value("messages").toArray().size(), 3);
        const QStringList rows = audit(created.value("id").toString());
        QCOMPARE(rows.size(), 2);
        QVERIFY(rows.at(0).startsWith("initial@") && rows.at(0).endsWith(":COMPLETED"));
        QVERIFY(rows.at(1).startsWith("continuation@") && rows.at(1).endsWith(":WAITING"));
        QVERIFY(out.alive());
    }

    void stopMidStream()
    {
        runtime().setChunkRateOverride(20);
        const QJsonObject created = create(preloadSession("e2e-stop", clientData()));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        OutStream out(http(), "e2e-stop", token);
        append("e2e-stop", submit(QStringLiteral("slow ").repeated(80), clientData()), token);
        QTRY_VERIFY_WITH_TIMEOUT(kinds(out.records).count("text-delta") >= 3, kWaitMs);
        QElapsedTimer t;
        t.start();
        const qint64 stopSeq = append("e2e-stop", stopChunk(), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QVERIFY2(t.elapsed() < 150, qPrintable(QString::number(t.elapsed()))); // append round trip + 100 ms
        const QStringList k = kinds(out.records);
        QCOMPARE(k.mid(k.size() - 2), (QStringList{"abort", "ctl:turn-complete"}));
        QVERIFY(k.count("text-delta") < 80);
        QCOMPARE(controls(out.records, "turn-complete").first().header("session-in-event-id").value_or(""),
                 QByteArray::number(stopSeq));
    }

    void schemaFailure()
    {
        const QJsonObject created = create(preloadSession("e2e-schema", clientData()));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        OutStream out(http(), "e2e-schema", token);
        const qint64 seq = append("e2e-schema", submit("who am I", QJsonObject{{"userId", 7}}), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QCOMPARE(kinds(out.records), QStringList{"ctl:turn-complete"});
        QCOMPARE(out.records.first().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        const QJsonObject agent = run(created.value("runId").toString()).value("metadata").toObject().value("agent").toObject();
        QVERIFY2(agent.value("lastError").toString().contains("userId must be string (got number)"),
                 qPrintable(agent.value("lastError").toString()));
    }

    void appVersionPinFirst()
    {
        AgentVersion pinning;
        pinning.task = QStringLiteral("pin-agent");
        pinning.appVersionPolicy = AgentVersion::AppVersionPolicy::PinFirst;
        QVERIFY(runtime().registry().deploy(pinning).ok());
        const QJsonObject b1{{"userId", "u"}, {"appVersion", "web-101"}};
        const QJsonObject b2{{"userId", "u"}, {"appVersion", "web-102"}};
        const QJsonObject created = create(preloadSession("e2e-pin", b1, {}, "pin-agent"));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        OutStream out(http(), "e2e-pin", token);
        append("e2e-pin", submit("one", b1), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        const qint64 seq = append("e2e-pin", submit("two", b2), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 2, kWaitMs);
        QCOMPARE(controls(out.records, "upgrade-required").size(), 1);
        QCOMPARE(controls(out.records, "turn-complete").last().header("session-in-event-id").value_or(""),
                 QByteArray::number(seq));
        const QStringList rows = audit(created.value("id").toString());
        QCOMPARE(rows.size(), 2);
        QVERIFY(rows.at(1).startsWith("upgrade@"));
        QVERIFY(out.alive());
    }

    void inRunUpgrade()
    {
        AgentVersion old;
        old.task = QStringLiteral("inrun");
        old.supportedProtocolVersions = {QStringLiteral("v1")};
        old.upgradeFrom = AgentVersion::UpgradeFrom::InRun;
        QVERIFY(runtime().registry().deploy(old).ok());
        const QJsonObject created = create(preloadSession("e2e-inrun", clientData(), {}, "inrun"));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        OutStream out(http(), "e2e-inrun", token);
        AgentVersion fresh = old;
        fresh.supportedProtocolVersions = {QStringLiteral("v2")};
        QVERIFY(runtime().registry().deploy(fresh).ok());
        append("e2e-inrun", submit("go", clientData("v2")), token);
        QTRY_COMPARE_WITH_TIMEOUT(audit(created.value("id").toString()).size(), 2, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QVERIFY(controls(out.records, "upgrade-required").isEmpty());
        QCOMPARE(folded(kinds(out.records)), plainTurn());
        const QStringList rows = audit(created.value("id").toString());
        QVERIFY2(rows.at(0).endsWith(":COMPLETED") && rows.at(1).startsWith("upgrade@"), qPrintable(rows.join(' ')));
    }

    void racingEndAndContinue()
    {
        const QJsonObject created = create(preloadSession("e2e-race", clientData()));
        const QString runId = created.value("runId").toString();
        const QJsonObject body{{"callingRunId", runId}, {"reason", "manual"}};
        QNetworkReply *a = http().start("POST", "/api/v1/sessions/e2e-race/end-and-continue", body);
        QNetworkReply *b = http().start("POST", "/api/v1/sessions/e2e-race/end-and-continue", body);
        const HttpReply ra = Client::finish(a);
        const HttpReply rb = Client::finish(b);
        QCOMPARE(ra.status, 200);
        QCOMPARE(rb.status, 200);
        QCOMPARE(int(ra.json().value("swapped").toBool()) + int(rb.json().value("swapped").toBool()), 1);
        QCOMPARE(ra.json().value("runId").toString(), rb.json().value("runId").toString());
        const QString winner = ra.json().value("runId").toString();
        QCOMPARE(currentRun("e2e-race"), winner);
        QTRY_COMPARE_WITH_TIMEOUT(run(runId).value("status").toString(), QStringLiteral("COMPLETED"), kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(run(winner).value("status").toString(), QStringLiteral("WAITING"), kWaitMs);
        QCOMPARE(audit(created.value("id").toString()).size(), 2);
    }

    void restartMidTurn()
    {
        runtime().setChunkRateOverride(20);
        const QJsonObject created = create(preloadSession("e2e-restart", clientData()));
        const QByteArray token = created.value("publicAccessToken").toString().toUtf8();
        qint64 lastSeen = -1;
        qint64 seq = -1;
        {
            OutStream out(http(), "e2e-restart", token);
            seq = append("e2e-restart", submit(QStringLiteral("cut ").repeated(60), clientData()), token);
            QTRY_VERIFY_WITH_TIMEOUT(kinds(out.records).count("text-delta") >= 3, kWaitMs);
            lastSeen = out.records.last().seqNum;
        }
        stopServer();
        startServer(0);

        OutStream out(http(), "e2e-restart", token, lastSeen);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 1, kWaitMs);
        QStringList k = kinds(out.records);
        QCOMPARE(k.mid(k.size() - 2), (QStringList{"error", "ctl:turn-complete"}));
        QVERIFY(!k.contains("finish"));
        QCOMPARE(controls(out.records, "turn-complete").first().header("session-in-event-id").value_or(""),
                 QByteArray::number(seq));
        QCOMPARE(currentRun("e2e-restart"), created.value("runId").toString());

        append("e2e-restart", submit("again", clientData()), token);
        QTRY_COMPARE_WITH_TIMEOUT(controls(out.records, "turn-complete").size(), 2, kWaitMs);
        k = kinds(out.records);
        QCOMPARE(k.count("start"), 1); // only the new turn: the cut one was not answered again
        QCOMPARE(textOfTurn(out.records, controls(out.records, "turn-complete").first().seqNum),
                 QStringLiteral("You said: again"));
    }
};

QTEST_GUILESS_MAIN(TestAgentHttp)
#include "tst_agenthttp.moc"
