#include "awaitresult.h"
#include "testsessions.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;

namespace {

struct CliRun
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;

    QList<QJsonObject> lines() const
    {
        QList<QJsonObject> objects;
        for (const QByteArray &line : out.split('\n')) {
            if (!line.trimmed().isEmpty())
                objects.append(QJsonDocument::fromJson(line).object());
        }
        return objects;
    }
};

} // namespace

// The remote verbs of sessionscope-cli against a real server: what they
// print, and their exit statuses (0 ok, 1 refused, 2 usage, 3 unreachable).
class TestClientCli : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;
    QTemporaryDir m_config;

    CliRun cli(const QStringList &args, bool withServer = true, const QByteArray &stdinText = QByteArray())
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_config.path());
        env.remove(QStringLiteral("SESSIONSCOPE_URL"));
        env.remove(QStringLiteral("SESSIONSCOPE_SECRET_KEY"));
        if (withServer) {
            env.insert(QStringLiteral("SESSIONSCOPE_SERVER"), m_server.url().toString());
            env.insert(QStringLiteral("SESSIONSCOPE_KEY"), m_server.secretKey());
        } else {
            env.remove(QStringLiteral("SESSIONSCOPE_SERVER"));
            env.remove(QStringLiteral("SESSIONSCOPE_KEY"));
        }
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(SESSIONSCOPE_CLI_BINARY), args);
        CliRun run;
        if (!p.waitForStarted(10000))
            return run;
        if (!stdinText.isEmpty())
            p.write(stdinText);
        p.closeWriteChannel();
        if (!p.waitForFinished(60000)) {
            p.kill();
            p.waitForFinished();
            return run;
        }
        run.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        run.out = p.readAllStandardOutput();
        run.err = p.readAllStandardError();
        return run;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_config.isValid());
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void sessionsLifecycle()
    {
        const QString ext = uniqueName("cli");
        const QString tag = uniqueName("tag");
        CliRun r = cli({"sessions", "create", "--task", "ai-chat", "--external-id", ext, "--client-data",
                        R"({"appVersion":"7"})", "--tag", tag});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().size(), 1);
        const QJsonObject created = r.lines().first();
        const QString id = created.value(QStringLiteral("id")).toString();
        QVERIFY(id.startsWith(QLatin1String("session_")));
        QCOMPARE(created.value(QStringLiteral("externalId")).toString(), ext);
        QCOMPARE(created.value(QStringLiteral("triggerConfig"))["basePayload"]["metadata"]["appVersion"].toString(),
                 QStringLiteral("7"));
        // The token is masked: a JWT never lands in a terminal scrollback by default.
        QVERIFY(created.value(QStringLiteral("publicAccessToken")).toString().contains(QLatin1String("[redacted]")));

        r = cli({"sessions", "get", ext});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().first().value(QStringLiteral("id")).toString(), id);

        r = cli({"sessions", "list", "--tag", tag});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().size(), 1);
        r = cli({"sessions", "list", "--tag", tag, "--table"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith("ID "));
        QVERIFY(r.out.contains(ext.toUtf8()));

        r = cli({"stop", id, "--message", "halt"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().first().value(QStringLiteral("seq")).toInt(), 0);

        r = cli({"sessions", "close", id, "--reason", "cli test"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().first().value(QStringLiteral("closedReason")).toString(), QStringLiteral("cli test"));

        // Refused by the server: exit 1 with its message.
        r = cli({"stop", id});
        QCOMPARE(r.exitCode, 1);
        const QJsonObject error = QJsonDocument::fromJson(r.err.trimmed()).object();
        QCOMPARE(error.value(QStringLiteral("httpStatus")).toInt(), 400);
        QCOMPARE(error.value(QStringLiteral("error")).toString(), QStringLiteral("Cannot append to a closed session"));
    }

    void tailFollowsAndRebuildsTheConversation()
    {
        const QString ext = uniqueName("tail");
        QCOMPARE(cli({"sessions", "create", "--task", "ai-chat", "--external-id", ext}).exitCode, 0);
        TestStreamWriter writer(m_server.profile());
        const char *chunks[] = {R"({"type":"start","messageId":"m1"})", R"({"type":"text-start","id":"t1"})",
                                R"({"type":"text-delta","id":"t1","delta":"Hello"})",
                                R"({"type":"text-delta","id":"t1","delta":", world"})", R"({"type":"text-end","id":"t1"})",
                                R"({"type":"finish"})"};
        int i = 0;
        for (const char *chunk : chunks) {
            const QByteArray body = "{\"data\":" + QByteArray(chunk) + ",\"id\":\"p" + QByteArray::number(i++) + "\"}";
            QVERIFY(writer.appendRecord(ext, {}, body).ok());
        }
        QVERIFY(writer.appendControl(ext, "turn-complete", {{"session-in-event-id", "0"}}).ok());
        QVERIFY(writer.appendCommand(ext, "trim").ok());

        CliRun r = cli({"tail", ext, "--until", "turn-complete"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().size(), 7);
        QCOMPARE(r.lines().at(2).value(QStringLiteral("chunkType")).toString(), QStringLiteral("text-delta"));
        QCOMPARE(r.lines().last().value(QStringLiteral("subtype")).toString(), QStringLiteral("turn-complete"));

        r = cli({"tail", ext, "--from", "5", "--raw", "--until", "caught-up"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().size(), 3);
        QCOMPARE(r.lines().first().value(QStringLiteral("seq_num")).toInt(), 5);
        QCOMPARE(r.lines().last().value(QStringLiteral("headers")).toArray().first().toArray().at(1).toString(),
                 QStringLiteral("trim"));

        r = cli({"tail", ext, "--transcript"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject transcript = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(transcript.value(QStringLiteral("lastSeq")).toInt(), 7);
        QCOMPARE(transcript.value(QStringLiteral("commands")).toInt(), 1);
        const QJsonObject message = transcript.value(QStringLiteral("messages")).toArray().first().toObject();
        QCOMPARE(message.value(QStringLiteral("text")).toString(), QStringLiteral("Hello, world"));
    }

    void exitStatuses()
    {
        CliRun r = cli({"sessions", "get", "session_nothere"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("\"httpStatus\":404"));

        r = cli({"sessions", "list", "--server", "http://127.0.0.1:1", "--key", "tr_dev_x"}, false);
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.err.contains("Connection refused"));

        r = cli({"sessions", "list"}, false);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("no server"));
        r = cli({"sessions", "fly"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"tail", "x", "--raw", "--transcript"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"sessions", "create", "--task", "t", "--client-data", "[1]"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("JSON object"));

        r = cli({"sessions", "list", "--key", "tr_dev_wrong_key_1"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("\"httpStatus\":401"));
        QVERIFY(!r.err.contains("tr_dev_wrong_key_1"));
    }

    void profiles()
    {
        CliRun r = cli({"profiles", "add", "local", "--server", m_server.url().toString(), "--kind", "embedded",
                        "--endpoint", "out=" + m_server.url().toString()});
        QCOMPARE(r.exitCode, 0);
        r = cli({"profiles", "set-key", "local", "--no-keychain"}, true, m_server.secretKey().toUtf8() + "\n");
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().first().value(QStringLiteral("secretStorage")).toString(), QStringLiteral("file"));
        const QString secrets = m_config.filePath(QStringLiteral("sessionscope/secrets.json"));
        QCOMPARE(QFile::permissions(secrets) & (QFileDevice::ReadGroup | QFileDevice::ReadOther),
                 QFileDevice::Permissions());
        QFile profilesFile(m_config.filePath(QStringLiteral("sessionscope/profiles.json")));
        QVERIFY(profilesFile.open(QIODevice::ReadOnly));
        QVERIFY(!profilesFile.readAll().contains(m_server.secretKey().toUtf8()));

        r = cli({"profiles", "list"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines().size(), 2);
        QCOMPARE(r.lines().last().value(QStringLiteral("endpoints"))["out"].toString(), m_server.url().toString());

        r = cli({"sessions", "list", "--profile", "local", "--limit", "1"}, false);
        QCOMPARE(r.exitCode, 0);
        r = cli({"sessions", "list", "--profile", "missing"}, false);
        QCOMPARE(r.exitCode, 2);
        r = cli({"profiles", "remove", "local"});
        QCOMPARE(r.exitCode, 0);
        r = cli({"profiles", "add", "bad", "--server", "ftp://x"});
        QCOMPARE(r.exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestClientCli)
#include "tst_clientcli.moc"
