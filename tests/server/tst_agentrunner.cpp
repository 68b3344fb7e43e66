// The agent run loop on the real stores (SQLite file, StreamStore,
// SessionService), without HTTP: turns, trims, tokens, upgrades, idle
// timeout and continuation, stop, schema failures, restarts.
#include "server/agent/agentrunner.h"
#include "server/agent/agentruntime.h"
#include "server/database.h"
#include "server/sessionservice.h"
#include "server/sessionstore.h"
#include "server/streamstore.h"
#include "server/tokenservice.h"
#include "tst_agentsupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace sessionscope;
using namespace sessionscope::agenttest;

namespace {

constexpr int kWaitMs = 10000;

// One embedded backend without HTTP, reopenable on the same file to play a restart.
class Backend
{
public:
    explicit Backend(const QString &dir) : m_dir(dir) {}
    ~Backend() { close(); }

    void open(double chunkRate = 0)
    {
        db = std::make_unique<Database>();
        QVERIFY(db->open(m_dir + QStringLiteral("/agent.db")).ok());
        store = std::make_unique<SessionStore>(*db);
        sessions = std::make_unique<SessionService>(*db, *store);
        streams = std::make_unique<StreamStore>(*db);
        tokens = std::make_unique<TokenService>("tr_dev_runnertestsecret", "env_test");
        runtime = std::make_unique<AgentRuntime>(*db, *sessions, *streams, tokens.get());
        runtime->setChunkRateOverride(chunkRate);
        // Everything ever written, across trims and restarts.
        QObject::connect(streams.get(), &StreamStore::recordsAppended, streams.get(),
                         [this](const QString &key, Channel channel, const QList<StreamRecord> &records) {
                             if (channel == Channel::Out)
                                 m_log[key] += records;
                         });
        QVERIFY(runtime->start().ok());
    }

    // A process exit: nothing is told to end, queued appends are committed.
    void close()
    {
        runtime.reset();
        streams.reset();
        sessions.reset();
        store.reset();
        tokens.reset();
        if (db)
            db->close();
        db.reset();
    }

    SessionRow create(const QJsonObject &basePayload, const QJsonObject &configExtras = {},
                      const QString &task = QStringLiteral("chat-agent"))
    {
        QJsonObject config = configExtras;
        config.insert(QStringLiteral("basePayload"), basePayload);
        CreateSessionParams params;
        params.type = QStringLiteral("chat.agent");
        params.taskIdentifier = task;
        params.externalId = QStringLiteral("chat-%1").arg(++m_sessions);
        params.triggerConfig = QJsonDocument(config).toJson(QJsonDocument::Compact);
        auto created = sessions->createSession(params);
        if (!created.ok())
            qFatal("createSession: %s", qPrintable(created.error().message));
        return created->session;
    }

    // What the append route does: make sure a run is live, then store the text.
    qint64 send(const SessionRow &session, const QJsonObject &chunk)
    {
        auto ensured = sessions->ensureRun(session, RunReason::Continuation);
        if (!ensured.ok())
            qFatal("ensureRun: %s", qPrintable(ensured.error().message));
        qint64 seq = -1;
        const QString text = QString::fromUtf8(QJsonDocument(chunk).toJson(QJsonDocument::Compact));
        streams->append(session.addressingKey(), Channel::In,
                        AppendRecord::data(text, QByteArray("in-") + QByteArray::number(++m_parts)),
                        [&seq](const Result<AppendOutcome> &r) { seq = r.ok() ? r->seq : -2; });
        streams->flush();
        return seq;
    }

    QList<StreamRecord> out(const SessionRow &session)
    {
        QList<StreamRecord> records;
        auto read = streams->read(session.addressingKey(), Channel::Out, 0, 100000);
        if (read.ok()) {
            for (const StoredRecord &r : read.value())
                records << r.record;
        }
        return records;
    }

    // Every `.out` record written, trimmed ones included.
    QList<StreamRecord> log(const SessionRow &session) const { return m_log.value(session.addressingKey()); }

    SessionRow reload(const SessionRow &session) { return sessions->session(session.friendlyId).value(); }
    RunRow run(const QString &id) { return sessions->run(id).value(); }
    QJsonObject agentMeta(const QString &runId)
    {
        const RunRow r = run(runId);
        return QJsonDocument::fromJson(r.metadata.value_or("{}")).object().value("agent").toObject();
    }

    std::unique_ptr<Database> db;
    std::unique_ptr<SessionStore> store;
    std::unique_ptr<SessionService> sessions;
    std::unique_ptr<StreamStore> streams;
    std::unique_ptr<TokenService> tokens;
    std::unique_ptr<AgentRuntime> runtime;

private:
    QString m_dir;
    QHash<QString, QList<StreamRecord>> m_log;
    int m_sessions = 0;
    int m_parts = 0;
};

QStringList auditReasons(Backend &b, const SessionRow &s)
{
    QStringList out;
    auto rows = b.sessions->sessionRuns(s);
    for (const SessionRunRow &r : rows.value())
        out.prepend(r.reason); // oldest first
    return out;
}


} // namespace

class TestAgentRunner : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Backend> m_b;

    Backend &b() { return *m_b; }

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        m_b = std::make_unique<Backend>(m_dir.path() + "/" + QTest::currentTestFunction());
        QDir().mkpath(m_dir.path() + "/" + QTest::currentTestFunction());
        m_b->open();
    }

    void cleanup() { m_b.reset(); }

    void bootMessageAnsweredAtOnce()
    {
        QJsonObject base{{"chatId", "chat"}, {"trigger", "submit-message"},
                         {"message", textMessage("m0", "hello boot")}, {"metadata", clientData()}};
        const SessionRow s = b().create(base);
        QTRY_VERIFY_WITH_TIMEOUT(!controls(b().log(s), "turn-complete").isEmpty(), kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(folded(kinds(out)), plainTurn());
        QCOMPARE(textOfTurn(out), QStringLiteral("You said: hello boot"));
        const StreamRecord tc = controls(out, "turn-complete").first();
        QVERIFY(!tc.header("session-in-event-id")); // nothing consumed from .in yet
        const QByteArray token = tc.header("public-access-token").value_or(QByteArray());
        auto claims = b().tokens->verify(token);
        QVERIFY(claims.ok());
        QVERIFY(claims->scopes.contains("read:sessions:" + s.addressingKey()));
        QVERIFY(claims->scopes.contains("write:sessions:" + s.addressingKey()));
        QVERIFY(claims->scopes.contains("read:runs:" + s.currentRunId));

        const RunRow run = b().run(s.currentRunId);
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("WAITING"), kWaitMs);
        QVERIFY(b().run(s.currentRunId).startedAt.has_value());
        QCOMPARE(run.version, b().runtime->registry().latest("chat-agent")->label);
        QCOMPARE(auditReasons(b(), s), QStringList{"initial"});
    }

    void preloadWaitsThenTurnsTrimBack()
    {
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("WAITING"), kWaitMs);
        QVERIFY(b().log(s).isEmpty());

        const qint64 first = b().send(s, submit("one", clientData()));
        QCOMPARE(first, 0);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        const StreamRecord tc1 = controls(b().log(s), "turn-complete").first();
        QCOMPARE(tc1.header("session-in-event-id").value_or(""), QByteArray("0"));
        QCOMPARE(folded(kinds(b().log(s))), plainTurn()); // no trim on the first turn

        const qint64 second = b().send(s, submit("two", clientData()));
        QCOMPARE(second, 1);
        QTRY_COMPARE_WITH_TIMEOUT(kinds(b().log(s)).count("ctl:turn-complete"), 2, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(kinds(b().log(s)).last() == "cmd:trim", kWaitMs);
        const auto out = b().out(s);
        // The trim cut everything before the first turn-complete from the stored stream.
        QCOMPARE(out.first().seqNum, tc1.seqNum);
        QCOMPARE(b().log(s).size(), out.size() + int(tc1.seqNum));
        const StreamRecord trim = out.last();
        QCOMPARE(StreamStore::trimTarget(trim.headers, trim.body).value_or(-1), tc1.seqNum);
        const StreamRecord tc2 = controls(out, "turn-complete").last();
        QCOMPARE(tc2.header("session-in-event-id").value_or(""), QByteArray("1"));
        QCOMPARE(textOfTurn(out, tc1.seqNum), QStringLiteral("You said: two"));

        // Part ids never repeat on the stream.
        QSet<QString> ids;
        for (const StreamRecord &r : out) {
            if (r.kind != RecordKind::Data)
                continue;
            const QString id = QJsonDocument::fromJson(r.body).object().value("id").toString();
            QVERIFY(!id.isEmpty() && !ids.contains(id));
            ids.insert(id);
        }
    }

    void schemaFailureWritesOnlyTurnComplete()
    {
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        const qint64 seq = b().send(s, submit("no user id", QJsonObject{{"protocolVersion", "v1"}}));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(kinds(out), QStringList{"ctl:turn-complete"});
        QCOMPARE(out.first().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        QVERIFY(!out.first().header("public-access-token"));
        const QJsonObject meta = b().agentMeta(s.currentRunId);
        QVERIFY2(meta.value("lastError").toString().contains("userId must be string"),
                 qPrintable(meta.value("lastError").toString()));
        QCOMPARE(meta.value("errors").toArray().first().toObject().value("inSeq").toInt(), int(seq));
        // The run lives on and answers the next, valid turn.
        b().send(s, submit("fixed", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        QCOMPARE(b().reload(s).currentRunId, s.currentRunId);
    }

    void upgradeAtTurnStart()
    {
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        const QString v1Run = s.currentRunId;
        const QString v1Label = b().run(v1Run).version;
        b().send(s, submit("on v1", clientData("v1")));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);

        auto next = b().runtime->registry().deployBuiltin("chat-agent", "next");
        QVERIFY(next.ok());
        QCOMPARE(b().run(v1Run).version, v1Label); // a deploy does not touch a running run

        const qint64 seq = b().send(s, submit("on v2", clientData("v2")));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        const auto out = b().log(s);
        const StreamRecord tc1 = controls(out, "turn-complete").first();
        const StreamRecord upgrade = controls(out, "upgrade-required").value(0);
        QVERIFY(upgrade.seqNum > tc1.seqNum);
        QStringList after = folded(kinds(out, upgrade.seqNum));
        QCOMPARE(after, (QStringList{"ctl:upgrade-required", "start", "start-step", "data-history", "reasoning-start",
                                     "reasoning-delta", "reasoning-end", "text-start", "text-delta", "text-end",
                                     "finish-step", "finish", "ctl:turn-complete", "cmd:trim"}));
        const StreamRecord tc2 = controls(out, "turn-complete").last();
        QCOMPARE(tc2.header("session-in-event-id").value_or(""), QByteArray::number(seq)); // the same .in record
        QCOMPARE(textOfTurn(out, upgrade.seqNum), QStringLiteral("You said: on v2"));

        const SessionRow now = b().reload(s);
        QVERIFY(now.currentRunId != v1Run);
        QCOMPARE(b().run(now.currentRunId).version, next->label);
        QCOMPARE(b().run(v1Run).status, QStringLiteral("COMPLETED"));
        QVERIFY(b().run(v1Run).finishedAt.has_value());
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "upgrade"}));
        QCOMPARE(b().agentMeta(v1Run).value("upgradeRequested").toObject().value("successorRunId").toString(),
                 now.currentRunId);
        // The new run's token names the new run.
        auto claims = b().tokens->verify(tc2.header("public-access-token").value_or(""));
        QVERIFY(claims.ok() && claims->scopes.contains("read:runs:" + now.currentRunId));

        // History survived the handoff: the history part lists the v1 turn.
        QJsonArray history;
        for (const StreamRecord &r : out) {
            if (r.kind == RecordKind::Data && dataOf(r).value("type") == "data-history")
                history = dataOf(r).value("data").toObject().value("messages").toArray();
        }
        QCOMPARE(history.size(), 3);
        QCOMPARE(history.at(0).toObject().value("text").toString(), QStringLiteral("on v1"));
        QCOMPARE(history.at(1).toObject().value("text").toString(), QStringLiteral("You said: on v1"));
    }

    void noDeployedVersionSupportsContract()
    {
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        const qint64 seq = b().send(s, submit("from the future", clientData("v9")));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(kinds(out), (QStringList{"start", "start-step", "data-contract-error", "finish-step", "finish",
                                          "ctl:turn-complete"}));
        const QJsonObject error = dataOf(out.at(2)).value("data").toObject();
        QVERIFY2(error.value("message").toString().contains("No deployed version of chat-agent supports protocolVersion v9"),
                 qPrintable(error.value("message").toString()));
        QCOMPARE(controls(out, "turn-complete").first().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        QCOMPARE(b().reload(s).currentRunId, s.currentRunId); // no handoff loop
        QCOMPARE(auditReasons(b(), s), QStringList{"initial"});
        QVERIFY(b().agentMeta(s.currentRunId).value("lastError").toString().contains("v9"));
    }

    void appVersionPinFirst()
    {
        AgentVersion pinning;
        pinning.task = QStringLiteral("pinned-agent");
        pinning.appVersionPolicy = AgentVersion::AppVersionPolicy::PinFirst;
        QVERIFY(b().runtime->registry().deploy(pinning).ok());
        const QJsonObject build1{{"userId", "u"}, {"appVersion", "build-1"}};
        const QJsonObject build2{{"userId", "u"}, {"appVersion", "build-2"}};
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", build1}},
                                        {}, QStringLiteral("pinned-agent"));
        b().send(s, submit("first", build1));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        QCOMPARE(b().agentMeta(s.currentRunId).value("pinnedAppVersion").toString(), QStringLiteral("build-1"));

        const qint64 seq = b().send(s, submit("after an app deploy", build2));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(controls(out, "upgrade-required").size(), 1);
        QCOMPARE(controls(out, "turn-complete").last().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        const SessionRow now = b().reload(s);
        QVERIFY(now.currentRunId != s.currentRunId);
        // Same version (nothing newer), but the new run pins the new build.
        QCOMPARE(b().run(now.currentRunId).version, b().run(s.currentRunId).version);
        QCOMPARE(b().agentMeta(now.currentRunId).value("pinnedAppVersion").toString(), QStringLiteral("build-2"));
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "upgrade"}));

        // The same build again is answered without another handoff.
        b().send(s, submit("steady", build2));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 3, kWaitMs);
        QCOMPARE(b().reload(s).currentRunId, now.currentRunId);
    }

    void inRunUpgrade()
    {
        AgentVersion old;
        old.task = QStringLiteral("inrun-agent");
        old.supportedProtocolVersions = {QStringLiteral("v1")};
        old.upgradeFrom = AgentVersion::UpgradeFrom::InRun;
        QVERIFY(b().runtime->registry().deploy(old).ok());
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                        {}, QStringLiteral("inrun-agent"));
        AgentVersion fresh = old;
        fresh.label.clear();
        fresh.supportedProtocolVersions = {QStringLiteral("v2")};
        fresh.reply.mode = AgentReplyBehaviour::Mode::Fixed;
        fresh.reply.text = QStringLiteral("new version here");
        auto deployed = b().runtime->registry().deploy(fresh);
        QVERIFY(deployed.ok());

        const qint64 seq = b().send(s, submit("v2 please", clientData("v2")));
        QTRY_VERIFY_WITH_TIMEOUT(b().reload(s).currentRunId != s.currentRunId, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("COMPLETED"), kWaitMs);
        auto out = b().log(s);
        QVERIFY(controls(out, "upgrade-required").isEmpty()); // as the SDK: no record for an in-run upgrade
        QCOMPARE(folded(kinds(out)), plainTurn());
        QCOMPARE(textOfTurn(out), QStringLiteral("You said: v2 please")); // the old version answered
        QCOMPARE(controls(out, "turn-complete").first().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        const QString successor = b().reload(s).currentRunId;
        QCOMPARE(b().run(successor).version, deployed->label);
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "upgrade"}));
        QTRY_COMPARE_WITH_TIMEOUT(b().run(successor).status, QStringLiteral("WAITING"), kWaitMs);

        b().send(s, submit("and now?", clientData("v2")));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        out = b().log(s);
        QCOMPARE(textOfTurn(out, controls(out, "turn-complete").first().seqNum), QStringLiteral("new version here"));
    }

    void idleTimeoutThenContinuation()
    {
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                        QJsonObject{{"idleTimeoutInSeconds", 1}});
        b().send(s, submit("before the pause", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("COMPLETED"), kWaitMs);
        QVERIFY(b().agentMeta(s.currentRunId).value("endedBecause").toString().contains("idle"));

        const qint64 seq = b().send(s, submit("after the pause", clientData()));
        const SessionRow now = b().reload(s);
        QVERIFY(now.currentRunId != s.currentRunId);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(controls(out, "turn-complete").last().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "continuation"}));
        const RunRow cont = b().run(now.currentRunId);
        QCOMPARE(cont.payloadObject().value("continuation").toBool(), true);
        QCOMPARE(cont.payloadObject().value("previousRunId").toString(), s.currentRunId);
        // The continuation answered with the history it rebuilt.
        const qint64 from = controls(out, "turn-complete").first().seqNum;
        const QStringList k = folded(kinds(out, from));
        QVERIFY(k.contains("data-history"));
        for (const StreamRecord &r : out) {
            if (r.kind == RecordKind::Data && dataOf(r).value("type") == "data-history") {
                const QJsonObject h = dataOf(r).value("data").toObject();
                QCOMPARE(h.value("reason").toString(), QStringLiteral("continuation"));
                QCOMPARE(h.value("previousRunId").toString(), s.currentRunId);
                QCOMPARE(h.value("messages").toArray().size(), 3);
            }
        }
    }

    void stopAbortsStreamingTurn()
    {
        b().runtime->setChunkRateOverride(20); // 50 ms per chunk
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        const QString longText = QStringLiteral("word ").repeated(60);
        b().send(s, submit(longText, clientData()));
        QTRY_VERIFY_WITH_TIMEOUT(kinds(b().log(s)).count("text-delta") >= 3, kWaitMs);
        const qint64 stopSeq = b().send(s, QJsonObject{{"kind", "stop"}});
        QElapsedTimer t;
        t.start();
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        QVERIFY2(t.elapsed() < 100, qPrintable(QString::number(t.elapsed())));
        const auto out = b().log(s);
        const QStringList k = kinds(out);
        QCOMPARE(k.mid(k.size() - 2), (QStringList{"abort", "ctl:turn-complete"}));
        QVERIFY(k.count("text-delta") < 60);
        QVERIFY(!k.contains("finish"));
        const StreamRecord tc = controls(out, "turn-complete").first();
        QCOMPARE(tc.header("session-in-event-id").value_or(""), QByteArray::number(stopSeq));
        QVERIFY(tc.header("public-access-token")); // a stopped turn is still a turn
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("WAITING"), kWaitMs);
        // Nothing more arrives for the stopped turn.
        const qsizetype count = b().log(s).size();
        QTest::qWait(200);
        QCOMPARE(b().log(s).size(), count);
    }

    void regenerateActionAndClose()
    {
        AgentVersion scripted;
        scripted.task = QStringLiteral("scripted-agent");
        scripted.reply.mode = AgentReplyBehaviour::Mode::Scripted;
        scripted.reply.script = {QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("gamma")};
        QVERIFY(b().runtime->registry().deploy(scripted).ok());
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                        {}, QStringLiteral("scripted-agent"));
        b().send(s, submit("q", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        QCOMPARE(textOfTurn(b().log(s)), QStringLiteral("alpha"));

        QJsonObject regenerate{{"kind", "message"},
                               {"payload", QJsonObject{{"chatId", "chat"}, {"trigger", "regenerate-message"}, {"metadata", clientData()}}}};
        b().send(s, regenerate);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        auto out = b().log(s);
        QCOMPARE(textOfTurn(out, controls(out, "turn-complete").first().seqNum), QStringLiteral("beta"));

        QJsonObject action{{"kind", "message"},
                           {"payload", QJsonObject{{"chatId", "chat"}, {"trigger", "action"},
                                                   {"action", QJsonObject{{"type", "undo"}}}, {"metadata", clientData()}}}};
        b().send(s, action);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 3, kWaitMs);
        out = b().log(s);
        const StreamRecord actionTc = controls(out, "turn-complete").last();
        QVERIFY(!actionTc.header("public-access-token")); // not a turn
        QCOMPARE(textOfTurn(out, controls(out, "turn-complete").at(controls(out, "turn-complete").size() - 2).seqNum),
                 QStringLiteral("Action undo received."));

        b().send(s, submit("q2", clientData())); // an action does not advance the script
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 4, kWaitMs);
        out = b().log(s);
        QCOMPARE(textOfTurn(out, controls(out, "turn-complete").at(controls(out, "turn-complete").size() - 2).seqNum),
                 QStringLiteral("gamma"));

        QJsonObject close{{"kind", "message"}, {"payload", QJsonObject{{"chatId", "chat"}, {"trigger", "close"}}}};
        b().send(s, close);
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("COMPLETED"), kWaitMs);
        QVERIFY(b().agentMeta(s.currentRunId).value("endedBecause").toString().contains("close"));
    }

    void sessionCloseEndsLiveRun()
    {
        b().runtime->setChunkRateOverride(20);
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        b().send(s, submit(QStringLiteral("long ").repeated(40), clientData()));
        QTRY_VERIFY_WITH_TIMEOUT(kinds(b().log(s)).count("text-delta") >= 2, kWaitMs);
        QVERIFY(b().sessions->closeSession(b().reload(s), QStringLiteral("done")).ok());
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("CANCELED"), kWaitMs);
        QCOMPARE(kinds(b().log(s)).mid(kinds(b().log(s)).size() - 2), (QStringList{"abort", "ctl:turn-complete"}));

        const SessionRow idle = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        QTRY_COMPARE_WITH_TIMEOUT(b().run(idle.currentRunId).status, QStringLiteral("WAITING"), kWaitMs);
        QVERIFY(b().sessions->closeSession(b().reload(idle), std::nullopt).ok());
        QTRY_COMPARE_WITH_TIMEOUT(b().run(idle.currentRunId).status, QStringLiteral("COMPLETED"), kWaitMs);
        QCOMPARE(b().runtime->liveRunnerCount(), 0);
    }

    void manualEndAndContinueWaitsForTheTurn()
    {
        b().runtime->setChunkRateOverride(50);
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        b().send(s, submit(QStringLiteral("many words ").repeated(10), clientData()));
        QTRY_VERIFY_WITH_TIMEOUT(kinds(b().log(s)).count("text-delta") >= 2, kWaitMs);
        auto swap = b().sessions->endAndContinue(b().reload(s), s.currentRunId, RunReason::Manual);
        QVERIFY(swap.ok() && swap->swapped);
        auto again = b().sessions->endAndContinue(b().reload(s), s.currentRunId, RunReason::Manual);
        QVERIFY(again.ok() && !again->swapped);
        QCOMPARE(again->runId, swap->runId);
        // The old run finishes its turn, then ends; the new one answers what comes next.
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        QVERIFY(kinds(b().log(s)).contains("finish"));
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("COMPLETED"), kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(b().run(swap->runId).status, QStringLiteral("WAITING"), kWaitMs);
        b().runtime->setChunkRateOverride(0);
        b().send(s, submit("next", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "manual"}));
    }

    void restartMidTurnEndsItOnce()
    {
        b().runtime->setChunkRateOverride(20);
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}});
        const qint64 seq = b().send(s, submit(QStringLiteral("interrupted ").repeated(40), clientData()));
        QTRY_VERIFY_WITH_TIMEOUT(kinds(b().log(s)).count("text-delta") >= 3, kWaitMs);
        b().close(); // the process dies mid-turn

        b().open(0);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        auto out = b().log(s);
        const QStringList k = kinds(out);
        QCOMPARE(k.mid(k.size() - 2), (QStringList{"error", "ctl:turn-complete"}));
        QVERIFY(!k.contains("finish"));
        QCOMPARE(controls(out, "turn-complete").first().header("session-in-event-id").value_or(""), QByteArray::number(seq));
        QCOMPARE(b().reload(s).currentRunId, s.currentRunId); // the same run resumed
        QVERIFY(b().agentMeta(s.currentRunId).contains("recoveredAt"));
        QTRY_COMPARE_WITH_TIMEOUT(b().run(s.currentRunId).status, QStringLiteral("WAITING"), kWaitMs);

        b().send(s, submit("after restart", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        out = b().log(s);
        QCOMPARE(textOfTurn(out, controls(out, "turn-complete").first().seqNum), QStringLiteral("You said: after restart"));
        QCOMPARE(kinds(out).count("start"), 2); // the interrupted turn was not answered again

        // Another restart while idle answers nothing new.
        b().close();
        b().open(0);
        QTest::qWait(100);
        QCOMPARE(controls(b().log(s), "turn-complete").size(), 2);
    }

    void lockToVersionAndPendingVersion()
    {
        const QString first = b().runtime->registry().latest("chat-agent")->label;
        QVERIFY(b().runtime->registry().deployBuiltin("chat-agent", "next").ok());
        const SessionRow locked = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                             QJsonObject{{"lockToVersion", first}});
        QCOMPARE(b().run(locked.currentRunId).version, first);
        // Locked to a version that does not support v2: nothing to upgrade to.
        b().send(locked, submit("v2 on a locked session", clientData("v2")));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(locked), "turn-complete").size(), 1, kWaitMs);
        QVERIFY(kinds(b().log(locked)).contains("data-contract-error"));

        // Locked to a label not deployed yet: PENDING_VERSION until it is.
        const SessionRow pending = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                              QJsonObject{{"lockToVersion", "20991231.1"}});
        QTRY_COMPARE_WITH_TIMEOUT(b().run(pending.currentRunId).status, QStringLiteral("PENDING_VERSION"), kWaitMs);
        const qint64 seq = b().send(pending, submit("anyone?", clientData()));
        QTest::qWait(50);
        QVERIFY(b().log(pending).isEmpty());
        AgentVersion other;
        other.task = QStringLiteral("chat-agent");
        QVERIFY(b().runtime->registry().deploy(other).ok()); // not the locked label: still waiting
        QTest::qWait(50);
        QCOMPARE(b().run(pending.currentRunId).status, QStringLiteral("PENDING_VERSION"));
        AgentVersion v;
        v.task = QStringLiteral("chat-agent");
        v.label = QStringLiteral("20991231.1");
        v.reply.mode = AgentReplyBehaviour::Mode::Fixed;
        v.reply.text = QStringLiteral("finally");
        QVERIFY(b().runtime->registry().deploy(v).ok());
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(pending), "turn-complete").size(), 1, kWaitMs);
        QCOMPARE(textOfTurn(b().log(pending)), QStringLiteral("finally"));
        QCOMPARE(controls(b().log(pending), "turn-complete").first().header("session-in-event-id").value_or(""),
                 QByteArray::number(seq));

        // A task without any deployed version is not the agent's: the run stays
        // a QUEUED row on the server's default version and nothing answers.
        const int live = b().runtime->liveRunnerCount();
        const SessionRow foreign = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                              {}, QStringLiteral("someone-elses-task"));
        b().send(foreign, submit("hello?", clientData()));
        QTest::qWait(100);
        QCOMPARE(b().run(foreign.currentRunId).status, QStringLiteral("QUEUED"));
        QCOMPARE(b().run(foreign.currentRunId).version, b().runtime->defaultVersion());
        QCOMPARE(b().runtime->liveRunnerCount(), live);
        QVERIFY(b().log(foreign).isEmpty());
    }

    void bootMessageHandedOverOnUpgrade()
    {
        // The run is pinned to v1 when the session is created; "next" is
        // deployed before it boots, so its boot message needs an upgrade. That
        // message is not on `.in`: it travels to the next run in the transcript.
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "submit-message"},
                                                    {"message", textMessage("m1", "boot on v3")}, {"metadata", clientData("v3")}});
        const QString v1 = b().run(s.currentRunId).version;
        auto next = b().runtime->registry().deployBuiltin("chat-agent", "next");
        QVERIFY(next.ok());
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        const auto out = b().log(s);
        QCOMPARE(kinds(out).first(), QStringLiteral("ctl:upgrade-required"));
        QCOMPARE(textOfTurn(out), QStringLiteral("You said: boot on v3"));
        QVERIFY(!controls(out, "turn-complete").first().header("session-in-event-id"));
        const SessionRow now = b().reload(s);
        QCOMPARE(b().run(s.currentRunId).version, v1);
        QCOMPARE(b().run(now.currentRunId).version, next->label);
        QCOMPARE(auditReasons(b(), s), (QStringList{"initial", "upgrade"}));
        // Answered once: a restart does not bring the boot message back.
        b().close();
        b().open(0);
        QTest::qWait(100);
        QCOMPARE(controls(b().log(s), "turn-complete").size(), 1);
    }

    void toolApprovalAcrossTurns()
    {
        AgentVersion tool;
        tool.task = QStringLiteral("tool-agent");
        tool.reply.tool = AgentToolCall{QStringLiteral("deleteFile"), QJsonObject{{"path", "/tmp/x"}},
                                        QJsonObject{{"deleted", true}}, true};
        QVERIFY(b().runtime->registry().deploy(tool).ok());
        const SessionRow s = b().create(QJsonObject{{"chatId", "chat"}, {"trigger", "preload"}, {"metadata", clientData()}},
                                        {}, QStringLiteral("tool-agent"));
        b().send(s, submit("clean up", clientData()));
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 1, kWaitMs);
        auto out = b().log(s);
        QString messageId;
        QString callId;
        QString approvalId;
        for (const StreamRecord &r : out) {
            const QJsonObject d = dataOf(r);
            if (d.value("type") == "start")
                messageId = d.value("messageId").toString();
            if (d.value("type") == "tool-approval-request") {
                callId = d.value("toolCallId").toString();
                approvalId = d.value("approvalId").toString();
            }
        }
        QVERIFY(!callId.isEmpty());
        QJsonObject answer{{"id", messageId}, {"role", "assistant"},
                           {"parts", QJsonArray{QJsonObject{{"type", "tool-deleteFile"}, {"toolCallId", callId},
                                                            {"state", "approval-responded"},
                                                            {"approval", QJsonObject{{"id", approvalId}, {"approved", true}}}}}}};
        QJsonObject chunk{{"kind", "message"},
                          {"payload", QJsonObject{{"chatId", "chat"}, {"trigger", "submit-message"},
                                                  {"message", answer}, {"metadata", clientData()}}}};
        b().send(s, chunk);
        QTRY_COMPARE_WITH_TIMEOUT(controls(b().log(s), "turn-complete").size(), 2, kWaitMs);
        out = b().log(s);
        const qint64 from = controls(out, "turn-complete").first().seqNum;
        const QStringList k = folded(kinds(out, from));
        QVERIFY2(k.contains("tool-output-available"), qPrintable(k.join(',')));
        QCOMPARE(textOfTurn(out, from), QStringLiteral("You said: clean up"));
    }
};

QTEST_GUILESS_MAIN(TestAgentRunner)
#include "tst_agentrunner.moc"
