// The README's "Try an upgrade" walk-through, run with the real
// sessionscope-cli binary against an in-process SessionServer.
#include "server/agent/agentruntime.h"
#include "server/sessionserver.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace sessionscope;

namespace {

const QString kSecret = QStringLiteral("tr_dev_agentclisecret0123456789");

struct CliRun
{
    int exitCode = -1;
    QList<QJsonObject> lines; // stdout, one JSON object per line
    QByteArray out;
    QByteArray err;

    // The first line holding `key`.
    QJsonObject lineWith(const char *key) const
    {
        for (const QJsonObject &line : lines) {
            if (line.contains(QLatin1String(key)))
                return line;
        }
        return {};
    }
    QStringList values(const char *key) const
    {
        QStringList out;
        for (const QJsonObject &line : lines) {
            if (line.contains(QLatin1String(key)))
                out << line.value(QLatin1String(key)).toString();
        }
        return out;
    }
};

} // namespace

class TestAgentCli : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<SessionServer> m_server;
    QString m_cli;

    // The server runs on this thread's event loop, so the CLI runs
    // asynchronously while the test waits on it.
    CliRun cli(const QStringList &args, bool withServer = true)
    {
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *name : {"SESSIONSCOPE_SERVER", "SESSIONSCOPE_KEY", "SESSIONSCOPE_URL", "SESSIONSCOPE_SECRET_KEY"})
            env.remove(QString::fromLatin1(name));
        env.insert("XDG_CONFIG_HOME", m_dir.filePath("config")); // no saved profiles
        if (withServer) {
            env.insert("SESSIONSCOPE_URL", m_server->baseUrl().toString());
            env.insert("SESSIONSCOPE_SECRET_KEY", kSecret);
        }
        process.setProcessEnvironment(env);
        QSignalSpy finished(&process, &QProcess::finished);
        process.start(m_cli, args);
        CliRun run;
        if (!finished.wait(30000)) {
            process.kill();
            process.waitForFinished(1000);
            run.err = "timed out";
            return run;
        }
        run.exitCode = process.exitCode();
        run.out = process.readAllStandardOutput();
        run.err = process.readAllStandardError();
        for (const QByteArray &line : run.out.split('\n')) {
            if (!line.trimmed().isEmpty())
                run.lines << QJsonDocument::fromJson(line).object();
        }
        return run;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_cli = qEnvironmentVariable("SESSIONSCOPE_BUILD_DIR") + QStringLiteral("/app/cli/sessionscope-cli");
        QVERIFY2(QFile::exists(m_cli), qPrintable(m_cli));
        ServerConfig config;
        config.dataDir = m_dir.filePath("data");
        config.secretKey = kSecret;
        m_server = std::make_unique<SessionServer>(config);
        QVERIFY(m_server->start().ok());
        QVERIFY(m_server->agentRuntime());
        m_server->agentRuntime()->setChunkRateOverride(200);
    }

    void cleanupTestCase() { m_server.reset(); }

    void tryAnUpgrade()
    {
        const CliRun created = cli({"sessions", "create", "--task", "chat-agent", "--external-id", "walk",
                                    "--client-data", R"({"userId":"u1","protocolVersion":"v1"})"});
        QCOMPARE(created.exitCode, 0);
        const QString firstRun = created.lineWith("currentRunId").value("currentRunId").toString();
        QVERIFY(firstRun.startsWith("run_"));
        const CliRun before = cli({"runs", "walk"});
        QCOMPARE(before.exitCode, 0);
        const QString v1 = before.lineWith("version").value("version").toString();
        QCOMPARE(v1, m_server->agentRuntime()->registry().latest("chat-agent")->label);

        const CliRun hello = cli({"send", "walk", "Hello", "--client-data", R"({"userId":"u1","protocolVersion":"v1"})"});
        QCOMPARE(hello.exitCode, 0);
        QCOMPARE(hello.lineWith("answer").value("answer").toString(), QStringLiteral("You said: Hello"));
        QCOMPARE(hello.lineWith("answer").value("version").toString(), v1);

        const CliRun deployed = cli({"deploy", "--task", "chat-agent", "--next"});
        QCOMPARE(deployed.exitCode, 0);
        const QJsonObject next = deployed.lines.value(0);
        QCOMPARE(next.value("builtin").toString(), QStringLiteral("next"));
        QVERIFY(next.value("isLatest").toBool());
        QCOMPARE(next.value("supportedProtocolVersions").toArray(), (QJsonArray{"v2", "v3"}));

        const CliRun listed = cli({"deployments", "--task", "chat-agent"});
        QCOMPARE(listed.exitCode, 0);
        QCOMPARE(listed.lines.size(), 2);
        QCOMPARE(listed.lines.at(0).value("label").toString(), v1);
        QCOMPARE(listed.lines.at(1).value("label").toString(), next.value("label").toString());

        const CliRun upgraded = cli({"send", "walk", "Hello again", "--client-data", R"({"userId":"u1","protocolVersion":"v2"})"});
        QCOMPARE(upgraded.exitCode, 0);
        QStringList controls = upgraded.values("control");
        QCOMPARE(controls, (QStringList{"upgrade-required", "turn-complete"}));
        const QJsonObject answer = upgraded.lineWith("answer");
        QCOMPARE(answer.value("answer").toString(), QStringLiteral("You said: Hello again"));
        QCOMPARE(answer.value("version").toString(), next.value("label").toString());
        QVERIFY(answer.value("runId").toString() != firstRun);
        QVERIFY(upgraded.values("chunk").contains("reasoning-start"));

        const CliRun runs = cli({"runs", "walk"});
        QCOMPARE(runs.exitCode, 0);
        QCOMPARE(runs.values("reason"), (QStringList{"initial", "upgrade"}));
        QCOMPARE(runs.lines.at(0).value("status").toString(), QStringLiteral("COMPLETED"));
        QCOMPARE(runs.lines.at(1).value("version").toString(), next.value("label").toString());
    }

    void deployFromFileAndErrors()
    {
        const QString file = m_dir.filePath("inrun.json");
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"supportedProtocolVersions": ["v3"], "upgradeFrom": "in-run", "reply": {"mode": "fixed", "text": "v4 here"}})");
        f.close();
        const CliRun deployed = cli({"deploy", "--task", "chat-agent", "--file", file, "--label", "canary-1"});
        QCOMPARE(deployed.exitCode, 0);
        QCOMPARE(deployed.lines.value(0).value("label").toString(), QStringLiteral("canary-1"));
        QCOMPARE(deployed.lines.value(0).value("upgradeFrom").toString(), QStringLiteral("in-run"));

        const CliRun again = cli({"deploy", "--task", "chat-agent", "--file", file, "--label", "canary-1"});
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.err.contains("already has a version canary-1"), again.err.constData());

        f.setFileName(m_dir.filePath("bad.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"supportedProtocolVersion": ["v3"]})");
        f.close();
        const CliRun bad = cli({"deploy", "--task", "chat-agent", "--file", f.fileName()});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.err.contains("unknown key"), bad.err.constData());

        QCOMPARE(cli({"deploy", "--task", "chat-agent"}).exitCode, 2);
        QCOMPARE(cli({"deploy", "--next"}).exitCode, 2);
        QCOMPARE(cli({"deploy", "--task", "chat-agent", "--next", "--file", file}).exitCode, 2);
        QCOMPARE(cli({"deploy", "--task", "chat-agent", "--builtin", "later"}).exitCode, 1);
        QCOMPARE(cli({"deploy", "--task", "chat-agent", "--file", m_dir.filePath("missing.json")}).exitCode, 1);
        const CliRun noServer = cli({"deployments"}, false);
        QCOMPARE(noServer.exitCode, 2);
        QVERIFY(noServer.err.contains("SESSIONSCOPE_SERVER"));
        QCOMPARE(cli({"send", "nosuch-session", "hi"}).exitCode, 1);
        QCOMPARE(cli({"send", "walk", "hi", "--client-data", "[1]"}).exitCode, 2);
        QCOMPARE(cli({"runs"}).exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestAgentCli)
#include "tst_agentcli.moc"
