// The sessionscope-server process: its start line, its secret key file, clean
// shutdown, and no lost or duplicated append across kill -9 and restart.

#include "httptestclient.h"

#include <QDir>
#include <QFile>
#include <QHash>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace sessionscope::test;

namespace {

constexpr char kKey[] = "tr_dev_crash_test_key_0123456789abcdef";

// One sessionscope-server child process.
class ServerProcess
{
public:
    bool start(const QString &dataDir, const QStringList &extra = {},
               const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
    {
        m_stdout.clear();
        m_process.setProcessEnvironment(env);
        m_process.start(QStringLiteral(SESSIONSCOPE_SERVER_BIN),
                        QStringList{"--data-dir", dataDir} + extra);
        if (!m_process.waitForStarted(10000))
            return false;
        const bool ready = HttpTestClient::spinUntil(
            [&] {
                m_stdout += m_process.readAllStandardOutput();
                return m_stdout.contains('\n') || m_process.state() == QProcess::NotRunning;
            },
            15000);
        static const QRegularExpression line(
            QStringLiteral(R"(^sessionscope-server listening on (http://127\.0\.0\.1:\d+)\n$)"));
        const auto m = line.match(QString::fromUtf8(m_stdout));
        if (!ready || !m.hasMatch()) {
            qWarning("no start line: %s / %s", m_stdout.constData(),
                     m_process.readAllStandardError().constData());
            return false;
        }
        m_base = QUrl(m.captured(1));
        return true;
    }
    void kill9()
    {
        ::kill(pid_t(m_process.processId()), SIGKILL);
        m_process.waitForFinished(10000);
    }
    bool terminate(int *exitCode)
    {
        m_process.terminate(); // SIGTERM
        if (!m_process.waitForFinished(10000))
            return false;
        m_stdout += m_process.readAllStandardOutput();
        *exitCode = m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
        return true;
    }
    ~ServerProcess()
    {
        if (m_process.state() != QProcess::NotRunning)
            kill9();
    }
    QUrl base() const { return m_base; }
    QByteArray allStdout() const { return m_stdout; }
    QByteArray allStderr() { return m_process.readAllStandardError(); }

private:
    QProcess m_process;
    QUrl m_base;
    QByteArray m_stdout;
};

QByteArray bodyFor(int i)
{
    return R"({"kind":"message","payload":{"chatId":"crash","n":)" + QByteArray::number(i) + "}}";
}

QByteArray partFor(int i)
{
    return "burst-" + QByteArray::number(i).rightJustified(4, '0');
}

// Keep-alive appenders: each sends its next append as soon as the previous is
// answered, and records which part ids were acknowledged with which seq.
class Burst
{
public:
    Burst(const QUrl &base, int workers, QList<int> ids, QHash<int, qint64> &acked) : m_acked(acked)
    {
        for (int w = 0; w < workers; ++w) {
            auto worker = std::make_shared<Worker>();
            for (int i = w; i < ids.size(); i += workers)
                worker->queue << ids.at(i);
            worker->client = std::make_unique<HttpTestClient>(base, kKey);
            worker->socket.connectToHost(base.host(), quint16(base.port()));
            QObject::connect(&worker->socket, &QTcpSocket::connected, &worker->socket,
                             [this, worker] { sendNext(*worker); });
            QObject::connect(
                &worker->socket, &QTcpSocket::readyRead, &worker->socket, [this, worker] {
                    worker->buffer += worker->socket.readAll();
                    while (auto r = HttpTestClient::parseOne(worker->buffer, false, false)) {
                        if (r->status == 200)
                            m_acked.insert(worker->inFlight, r->json()["seq"].get<qint64>());
                        else
                            ++m_failures;
                        sendNext(*worker);
                    }
                });
            m_workers << worker;
        }
    }
    ~Burst()
    {
        for (auto &w : m_workers) {
            w->socket.disconnect();
            w->socket.abort();
        }
    }
    bool done() const
    {
        for (const auto &w : m_workers) {
            if (w->inFlight >= 0 || !w->queue.isEmpty())
                return false;
        }
        return true;
    }
    int failures() const { return m_failures; }

private:
    struct Worker
    {
        QTcpSocket socket;
        std::unique_ptr<HttpTestClient> client;
        QList<int> queue;
        QByteArray buffer;
        int inFlight = -1;
    };
    void sendNext(Worker &w)
    {
        w.inFlight = -1;
        if (w.queue.isEmpty())
            return;
        w.inFlight = w.queue.takeFirst();
        const int id = w.inFlight;
        w.socket.write(w.client->requestBytes("POST", "/realtime/v1/sessions/crash/in/append",
                                              bodyFor(id), {{"X-Part-Id", partFor(id)}}));
    }

    QList<std::shared_ptr<Worker>> m_workers;
    QHash<int, qint64> &m_acked;
    int m_failures = 0;
};

} // namespace

class TstCrashSafety : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startLineKeyFileAndCleanShutdown();
    void secretKeyFromEnvironment();
    void killDuringBurstLosesNothing();
};

void TstCrashSafety::startLineKeyFileAndCleanShutdown()
{
    QTemporaryDir dir;
    ServerProcess server;
    QVERIFY(server.start(dir.path(), {"--ping-interval-ms", "200"}));
    const QString keyPath = QDir(dir.path()).filePath("secret-key");
    QFile keyFile(keyPath);
    QVERIFY(keyFile.exists());
    QCOMPARE(keyFile.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther |
                                      QFileDevice::WriteGroup | QFileDevice::WriteOther),
             QFileDevice::Permissions());
    QVERIFY(keyFile.open(QIODevice::ReadOnly));
    const QByteArray key = keyFile.readAll().trimmed();
    QVERIFY(key.startsWith("tr_dev_"));
    QCOMPARE(HttpTestClient(server.base(), key).get("/api/v1/sessions").status, 200);
    QCOMPARE(HttpTestClient(server.base(), "wrong").get("/api/v1/sessions").status, 401);

    int exitCode = -1;
    QVERIFY(server.terminate(&exitCode));
    QCOMPARE(exitCode, 0);
    const QByteArray err = server.allStderr();
    QVERIFY2(err.contains(keyPath.toUtf8()), err.constData()); // its path is printed...
    QVERIFY(!err.contains(key));                               // ...the key never is
    QVERIFY(!server.allStdout().contains(key));
    QCOMPARE(server.allStdout().count('\n'), 1);

    // The same key on the next start.
    ServerProcess again;
    QVERIFY(again.start(dir.path()));
    QCOMPARE(HttpTestClient(again.base(), key).get("/api/v1/sessions").status, 200);
}

void TstCrashSafety::secretKeyFromEnvironment()
{
    QTemporaryDir dir;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("SESSIONSCOPE_SECRET_KEY", "tr_dev_from_env_0123456789");
    ServerProcess server;
    QVERIFY(server.start(dir.path(), {}, env));
    QCOMPARE(
        HttpTestClient(server.base(), "tr_dev_from_env_0123456789").get("/api/v1/sessions").status,
        200);
    QVERIFY(!QFile::exists(QDir(dir.path()).filePath("secret-key")));
    // The flag wins over the environment.
    ServerProcess flagged;
    QVERIFY(flagged.start(dir.path(), {"--secret-key", kKey}, env));
    QCOMPARE(HttpTestClient(flagged.base(), kKey).get("/api/v1/sessions").status, 200);
    QCOMPARE(
        HttpTestClient(flagged.base(), "tr_dev_from_env_0123456789").get("/api/v1/sessions").status,
        401);
}

void TstCrashSafety::killDuringBurstLosesNothing()
{
    constexpr int total = 2000;
    QTemporaryDir dir;
    auto server = std::make_unique<ServerProcess>();
    QVERIFY(server->start(dir.path(), {"--secret-key", kKey}));
    HttpTestClient client(server->base(), kKey);
    TestJson body = {{"type", "chat.agent"},
                     {"externalId", "crash"},
                     {"taskIdentifier", "t"},
                     {"triggerConfig", {{"basePayload", TestJson::object()}}}};
    QCOMPARE(client.postJson("/api/v1/sessions", body).status, 201);

    QHash<int, qint64> acked;
    QList<int> ids;
    for (int i = 0; i < total; ++i)
        ids << i;
    {
        Burst burst(server->base(), 8, ids, acked);
        QVERIFY(HttpTestClient::spinUntil([&] { return acked.size() >= 700; }, 60000));
        server->kill9(); // mid-burst: some appends in flight, most not yet sent
    }
    const int ackedBeforeKill = acked.size();
    QVERIFY2(ackedBeforeKill >= 700 && ackedBeforeKill < total,
             qPrintable(QString::number(ackedBeforeKill)));
    const QHash<int, qint64> firstAcks = acked;

    server = std::make_unique<ServerProcess>();
    QVERIFY(server->start(dir.path(), {"--secret-key", kKey}));
    // What survived: every acknowledged append, perhaps some that were
    // committed but whose answer never left the process.
    const size_t committed = HttpTestClient(server->base(), kKey)
                                 .get("/realtime/v1/sessions/crash/in/records")
                                 .json()["records"]
                                 .size();
    QVERIFY(committed >= size_t(ackedBeforeKill));
    qInfo("killed after %d acknowledged appends; %zu were committed", ackedBeforeKill, committed);
    // Retry every unacknowledged append with its part id, plus every 10th
    // acknowledged one (a client that never saw its answer does exactly that).
    QList<int> retry;
    for (int i = 0; i < total; ++i) {
        if (!firstAcks.contains(i) || i % 10 == 0)
            retry << i;
    }
    {
        Burst burst(server->base(), 8, retry, acked);
        QVERIFY(HttpTestClient::spinUntil([&] { return burst.done(); }, 60000));
        QCOMPARE(burst.failures(), 0);
    }
    QCOMPARE(acked.size(), total);
    for (auto it = firstAcks.begin(); it != firstAcks.end(); ++it)
        QCOMPARE(acked.value(it.key()), it.value()); // a repeat answers the original seq

    const HttpResponse r =
        HttpTestClient(server->base(), kKey).get("/realtime/v1/sessions/crash/in/records");
    QCOMPARE(r.status, 200);
    const TestJson records = r.json()["records"];
    QCOMPARE(records.size(), size_t(total));
    QSet<QByteArray> seen;
    for (size_t i = 0; i < records.size(); ++i) {
        const TestJson &rec = records[i];
        QCOMPARE(rec["seqNum"].get<qint64>(), qint64(i)); // no gap, no reorder
        const QByteArray id = QByteArray::fromStdString(rec["id"].get<std::string>());
        QVERIFY2(!seen.contains(id), id.constData()); // no duplicate
        seen.insert(id);
        const int n = id.mid(6).toInt();
        QCOMPARE(QByteArray::fromStdString(rec["data"].get<std::string>()), bodyFor(n));
        QCOMPARE(acked.value(n), qint64(i));
    }
    QCOMPARE(seen.size(), total);
}

QTEST_GUILESS_MAIN(TstCrashSafety)
#include "tst_crashsafety.moc"
