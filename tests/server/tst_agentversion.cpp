// AgentVersion files, the clientData schema, the contract check, the
// built-in versions and the deployment registry.
#include "server/agent/agentversion.h"
#include "server/agent/builtinversions.h"
#include "server/agent/clientdataschema.h"
#include "server/agent/contractcheck.h"
#include "server/agent/deploymentregistry.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;

namespace {

QJsonObject parse(const char *json)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray(json), &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("bad test JSON: %s", qPrintable(error.errorString()));
    return doc.object();
}

QJsonObject clientData(std::initializer_list<QPair<QString, QJsonValue>> fields)
{
    return QJsonObject(fields);
}

} // namespace

class TestAgentVersion : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsFromEmptyObject()
    {
        auto v = AgentVersion::fromJson(QJsonObject());
        QVERIFY(v.ok());
        QCOMPARE(v->supportedProtocolVersions, QStringList());
        QCOMPARE(v->appVersionPolicy, AgentVersion::AppVersionPolicy::Ignore);
        QCOMPARE(v->clientDataSchema, ClientDataSchema::defaultSchema());
        QCOMPARE(v->reply.mode, AgentReplyBehaviour::Mode::Echo);
        QCOMPARE(v->idleTimeoutInSeconds, AgentVersion::DefaultIdleTimeoutInSeconds);
        QCOMPARE(v->upgradeFrom, AgentVersion::UpgradeFrom::TurnStart);
        QVERIFY(!v->reply.reasoning);
        QVERIFY(!v->reply.tool);
    }

    void fullFileRoundTrips()
    {
        const QJsonObject file = parse(R"({
            "task": "chat-agent", "label": "20261121.7", "description": "scripted with a tool",
            "supportedProtocolVersions": ["v2", "v3", "v2"],
            "appVersionPolicy": "pin-first",
            "clientDataSchema": {"userId": "string", "seats": "integer", "flags": "object"},
            "reply": {"mode": "scripted", "script": ["one", "two"], "chunksPerSecond": 12.5,
                      "reasoning": "Let me think.",
                      "tool": {"name": "getWeather", "input": {"city": "Oslo"}, "output": {"c": 4},
                               "needsApproval": true}},
            "idleTimeoutInSeconds": 5, "upgradeFrom": "in-run"})");
        auto v = AgentVersion::fromJson(file);
        QVERIFY2(v.ok(), qPrintable(v.ok() ? QString() : v.error().message));
        QCOMPARE(v->task, QStringLiteral("chat-agent"));
        QCOMPARE(v->label, QStringLiteral("20261121.7"));
        QCOMPARE(v->supportedProtocolVersions, (QStringList{"v2", "v3"})); // duplicates fold
        QCOMPARE(v->appVersionPolicy, AgentVersion::AppVersionPolicy::PinFirst);
        QCOMPARE(v->clientDataSchema.fields().size(), 3);
        QCOMPARE(v->reply.mode, AgentReplyBehaviour::Mode::Scripted);
        QCOMPARE(v->reply.script, (QStringList{"one", "two"}));
        QCOMPARE(v->reply.chunksPerSecond, 12.5);
        QCOMPARE(*v->reply.reasoning, QStringLiteral("Let me think."));
        QVERIFY(v->reply.tool);
        QCOMPARE(v->reply.tool->name, QStringLiteral("getWeather"));
        QVERIFY(v->reply.tool->needsApproval);
        QCOMPARE(v->reply.tool->input.toObject().value("city").toString(), QStringLiteral("Oslo"));
        QCOMPARE(v->idleTimeoutInSeconds, 5);
        QCOMPARE(v->upgradeFrom, AgentVersion::UpgradeFrom::InRun);

        auto again = AgentVersion::fromJson(v->toJson());
        QVERIFY(again.ok());
        QCOMPARE(again.value(), v.value());
    }

    void reasoningTrueMeansDerived()
    {
        auto v = AgentVersion::fromJson(parse(R"({"reply": {"reasoning": true}})"));
        QVERIFY(v.ok());
        QVERIFY(v->reply.reasoning);
        QVERIFY(v->reply.reasoning->isEmpty());
        QCOMPARE(v->toJson().value("reply").toObject().value("reasoning"), QJsonValue(true));
        auto off = AgentVersion::fromJson(parse(R"({"reply": {"reasoning": false}})"));
        QVERIFY(off.ok());
        QVERIFY(!off->reply.reasoning);
    }

    void rejectsBadFiles_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown key") << QByteArray(R"({"supportedProtocolVersion": ["v1"]})") << "supportedProtocolVersion";
        QTest::newRow("protocols not array") << QByteArray(R"({"supportedProtocolVersions": "v1"})") << "supportedProtocolVersions";
        QTest::newRow("protocol empty") << QByteArray(R"({"supportedProtocolVersions": [""]})") << "supportedProtocolVersions";
        QTest::newRow("policy") << QByteArray(R"({"appVersionPolicy": "pin-last"})") << "appVersionPolicy";
        QTest::newRow("schema type") << QByteArray(R"({"clientDataSchema": {"userId": "uuid"}})") << "clientDataSchema.userId";
        QTest::newRow("schema not object") << QByteArray(R"({"clientDataSchema": ["userId"]})") << "clientDataSchema";
        QTest::newRow("mode") << QByteArray(R"({"reply": {"mode": "llm"}})") << "reply.mode";
        QTest::newRow("fixed without text") << QByteArray(R"({"reply": {"mode": "fixed"}})") << "reply.text";
        QTest::newRow("scripted empty") << QByteArray(R"({"reply": {"mode": "scripted", "script": []}})") << "reply.script";
        QTest::newRow("rate negative") << QByteArray(R"({"reply": {"chunksPerSecond": -1}})") << "chunksPerSecond";
        QTest::newRow("rate string") << QByteArray(R"({"reply": {"chunksPerSecond": "fast"}})") << "chunksPerSecond";
        QTest::newRow("reply unknown key") << QByteArray(R"({"reply": {"speed": 3}})") << "speed";
        QTest::newRow("tool name") << QByteArray(R"({"reply": {"tool": {"name": "a b"}}})") << "reply.tool.name";
        QTest::newRow("tool approval type") << QByteArray(R"({"reply": {"tool": {"name": "t", "needsApproval": "yes"}}})") << "needsApproval";
        QTest::newRow("idle zero") << QByteArray(R"({"idleTimeoutInSeconds": 0})") << "idleTimeoutInSeconds";
        QTest::newRow("idle fraction") << QByteArray(R"({"idleTimeoutInSeconds": 1.5})") << "idleTimeoutInSeconds";
        QTest::newRow("idle too long") << QByteArray(R"({"idleTimeoutInSeconds": 3601})") << "idleTimeoutInSeconds";
        QTest::newRow("upgradeFrom") << QByteArray(R"({"upgradeFrom": "turn-end"})") << "upgradeFrom";
        QTest::newRow("label chars") << QByteArray(R"({"label": "v 1"})") << "label";
        QTest::newRow("task type") << QByteArray(R"({"task": 7})") << "task";
    }

    void rejectsBadFiles()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, mentions);
        auto v = AgentVersion::fromJson(QJsonDocument::fromJson(json).object());
        QVERIFY(!v.ok());
        QVERIFY2(v.error().message.contains(mentions), qPrintable(v.error().message));
    }

    void datedLabels()
    {
        QVERIFY(AgentVersion::isValidLabel(u"20261121.3"));
        QVERIFY(AgentVersion::isValidLabel(u"canary-2"));
        QVERIFY(!AgentVersion::isValidLabel(u""));
        QVERIFY(!AgentVersion::isValidLabel(u"a/b"));
        QVERIFY(!AgentVersion::isValidLabel(QString(65, QLatin1Char('a'))));
        const auto d = AgentVersion::splitDatedLabel(u"20261121.12");
        QVERIFY(d);
        QCOMPARE(d->first, QStringLiteral("20261121"));
        QCOMPARE(d->second, 12);
        QVERIFY(!AgentVersion::splitDatedLabel(u"2026112.1"));
        QVERIFY(!AgentVersion::splitDatedLabel(u"canary"));
    }

    void schemaValidation()
    {
        const ClientDataSchema def = ClientDataSchema::defaultSchema();
        QVERIFY(def.validate(clientData({{"userId", "u1"}})).ok());
        QVERIFY(def.validate(clientData({{"userId", "u1"}, {"protocolVersion", "v1"}})).ok());

        auto missing = def.validate(clientData({{"user", "u1"}}));
        QVERIFY(!missing.ok());
        QVERIFY2(missing.error().message.contains("userId must be string (got missing)"), qPrintable(missing.error().message));
        auto wrongType = def.validate(clientData({{"userId", 42}}));
        QVERIFY(!wrongType.ok());
        QVERIFY(wrongType.error().message.contains("got number"));
        auto notObject = def.validate(QJsonValue("u1"));
        QVERIFY(!notObject.ok());
        QVERIFY(notObject.error().message.contains("userId: string"));
        QVERIFY(!def.validate(QJsonValue()).ok());

        auto typed = ClientDataSchema::fromJson(parse(R"({"n": "number", "i": "integer", "b": "boolean", "a": "array", "o": "object"})"));
        QVERIFY(typed.ok());
        QVERIFY(typed->validate(parse(R"({"n": 1.5, "i": 3, "b": false, "a": [], "o": {}})")).ok());
        auto bad = typed->validate(parse(R"({"n": "1", "i": 3.5, "b": 0, "a": {}, "o": []})"));
        QVERIFY(!bad.ok());
        for (const char *key : {"n must be number", "i must be integer", "b must be boolean", "a must be array", "o must be object"})
            QVERIFY2(bad.error().message.contains(QLatin1String(key)), key);

        QVERIFY(ClientDataSchema().validate(QJsonValue()).ok()); // no required keys: anything goes
        QCOMPARE(ClientDataSchema::fromJson(def.toJson()).value(), def);
    }

    void contractProtocolVersion()
    {
        AgentVersion v;
        v.label = QStringLiteral("20261121.1");
        v.supportedProtocolVersions = {QStringLiteral("v1")};
        QVERIFY(ContractCheck::check(v, clientData({{"userId", "u"}, {"protocolVersion", "v1"}}), {}).supported());
        QVERIFY(ContractCheck::check(v, clientData({{"userId", "u"}}), {}).supported()); // no marker: accepted

        const auto verdict = ContractCheck::check(v, clientData({{"protocolVersion", "v2"}}), {});
        QCOMPARE(verdict.outcome, ContractCheck::Outcome::UnsupportedProtocol);
        QCOMPARE(verdict.marker, QStringLiteral("v2"));
        QVERIFY(verdict.detail.contains("20261121.1"));

        v.supportedProtocolVersions.clear(); // a version that does not check
        QVERIFY(ContractCheck::check(v, clientData({{"protocolVersion", "v9"}}), {}).supported());
    }

    void contractAppVersionPinFirst()
    {
        AgentVersion v;
        v.appVersionPolicy = AgentVersion::AppVersionPolicy::PinFirst;
        const auto data = clientData({{"appVersion", "build-2"}});
        QVERIFY(ContractCheck::check(v, data, QString()).supported()); // nothing pinned yet
        QVERIFY(ContractCheck::check(v, data, QStringLiteral("build-2")).supported());
        const auto changed = ContractCheck::check(v, data, QStringLiteral("build-1"));
        QCOMPARE(changed.outcome, ContractCheck::Outcome::AppVersionChanged);
        QCOMPARE(changed.marker, QStringLiteral("build-2"));
        QVERIFY(ContractCheck::accepts(v, data)); // a fresh run would pin it

        v.appVersionPolicy = AgentVersion::AppVersionPolicy::Ignore;
        QVERIFY(ContractCheck::check(v, data, QStringLiteral("build-1")).supported());
        QCOMPARE(ContractCheck::appVersionOf(clientData({{"appVersion", 7}})), QStringLiteral("7"));
        QCOMPARE(ContractCheck::protocolVersionOf(QJsonValue("nope")), QString());
    }

    void builtins()
    {
        const auto current = BuiltinVersions::find("chat-agent", "current");
        const auto next = BuiltinVersions::find("chat-agent", "next");
        QVERIFY(current && next);
        QCOMPARE(current->supportedProtocolVersions, QStringList{"v1"});
        QCOMPARE(next->supportedProtocolVersions, (QStringList{"v2", "v3"}));
        QVERIFY(!next->supportsProtocol("v1"));
        QVERIFY(current->reply.chunksPerSecond >= 20 && current->reply.chunksPerSecond <= 50);
        QVERIFY(!BuiltinVersions::find("chat-agent", "later"));
        QVERIFY(!BuiltinVersions::find("other", "next"));
    }

    void registryLabelsAndLatest()
    {
        DeploymentRegistry registry;
        QDateTime now = QDateTime(QDate(2026, 11, 21), QTime(10, 0), Qt::UTC);
        registry.setClock([&now] { return now; });
        QSignalSpy spy(&registry, &DeploymentRegistry::deployed);

        QVERIFY(registry.ensureBuiltins().ok());
        QVERIFY(registry.ensureBuiltins().ok()); // second call deploys nothing
        QCOMPARE(spy.count(), 1);
        QCOMPARE(registry.latest("chat-agent")->label, QStringLiteral("20261121.1"));
        QCOMPARE(registry.latest("chat-agent")->builtin, QStringLiteral("current"));

        auto next = registry.deployBuiltin("chat-agent", "next");
        QVERIFY(next.ok());
        QCOMPARE(next->label, QStringLiteral("20261121.2"));
        QCOMPARE(next->deployedAt, now);
        QCOMPARE(registry.latest("chat-agent")->label, QStringLiteral("20261121.2"));

        AgentVersion named;
        named.task = QStringLiteral("chat-agent");
        named.label = QStringLiteral("20261121.9");
        QVERIFY(registry.deploy(named).ok());
        now = now.addDays(1);
        AgentVersion unnamed;
        unnamed.task = QStringLiteral("chat-agent");
        QCOMPARE(registry.deploy(unnamed)->label, QStringLiteral("20261122.1"));
        now = now.addDays(-1);
        QCOMPARE(registry.deploy(unnamed)->label, QStringLiteral("20261121.10")); // after the highest that day

        auto dup = registry.deploy(named);
        QVERIFY(!dup.ok());
        QCOMPARE(dup.error().httpStatus, 409);
        AgentVersion noTask;
        QCOMPARE(registry.deploy(noTask).error().httpStatus, 422);
        QCOMPARE(registry.deployBuiltin("chat-agent", "later").error().httpStatus, 404);

        QCOMPARE(registry.versions("chat-agent").size(), 5);
        QCOMPARE(registry.resolve("chat-agent")->label, QStringLiteral("20261121.10"));
        QCOMPARE(registry.resolve("chat-agent", "20261121.1")->builtin, QStringLiteral("current"));
        QCOMPARE(registry.resolve("chat-agent", "19990101.1").error().httpStatus, 404);
        QCOMPARE(registry.resolve("nobody").error().httpStatus, 404);
        QCOMPARE(spy.count(), 5);
    }

    void registryPersists()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath("agent.db");
        QString firstLabel;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "registry-a");
            db.setDatabaseName(path);
            QVERIFY(db.open());
            DeploymentRegistry registry;
            QVERIFY(registry.attachDatabase("registry-a").ok());
            QVERIFY(registry.ensureBuiltins().ok());
            AgentVersion other;
            other.task = QStringLiteral("support-bot");
            other.reply.mode = AgentReplyBehaviour::Mode::Fixed;
            other.reply.text = QStringLiteral("We are on it.");
            QVERIFY(registry.deploy(other).ok());
            QVERIFY(registry.deployBuiltin("chat-agent", "next").ok());
            firstLabel = registry.versions("chat-agent").first().label;
            db.close();
        }
        QSqlDatabase::removeDatabase("registry-a");
        {
            QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "registry-b");
            db.setDatabaseName(path);
            QVERIFY(db.open());
            DeploymentRegistry registry;
            QVERIFY(registry.attachDatabase("registry-b").ok());
            QVERIFY(registry.ensureBuiltins().ok()); // already there: nothing new
            QCOMPARE(registry.versions("chat-agent").size(), 2);
            QCOMPARE(registry.versions("chat-agent").first().label, firstLabel);
            QCOMPARE(registry.latest("chat-agent")->builtin, QStringLiteral("next"));
            QCOMPARE(registry.latest("support-bot")->reply.text, QStringLiteral("We are on it."));
            QCOMPARE(registry.tasks().size(), 2);
            db.close();
        }
        QSqlDatabase::removeDatabase("registry-b");

        DeploymentRegistry unattached;
        QVERIFY(!unattached.attachDatabase("no-such-connection").ok());
    }
};

QTEST_GUILESS_MAIN(TestAgentVersion)
#include "tst_agentversion.moc"
