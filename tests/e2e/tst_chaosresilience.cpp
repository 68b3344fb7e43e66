// Resilience under a sessionscope-server started with --chaos: dropped and
// torn SSE events, trickled responses, injected latency and 503s on appends
// (half of them after the record was stored). The clients must lose nothing,
// repeat nothing and keep the order. Each test prints the faults the server
// reports having injected (GET /api/v1/chaos) and the records it checked.
//
// SESSIONSCOPE_CHAOS_SEED replays a run: the spec printed by a failing run
// (seed included) names it.

#include "models/streamingest.h"
#include "models/streamrecordmodel.h"
#include "net/inappender.h"
#include "net/resttransport.h"
#include "net/sessionoutsubscription.h"

#include "awaitresult.h"
#include "testserverprocess.h"
#include "testsessions.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace sessionscope;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan+UBSan make the server and the clients about six times slower: the
// sanitizer run checks memory on a shorter stream, the ci run the full volume.
constexpr int OutRecords = 15000;
#else
constexpr int OutRecords = 50000;
#endif
constexpr int InSends = 500;
constexpr int CliSends = 250;
// The writer stays at most this far ahead of the slowest reader, so the
// faults land all along the stream instead of on one big backlog.
constexpr int MaxLead = 4000;

QString withSeed(const QString &spec)
{
    const QByteArray seed = qgetenv("SESSIONSCOPE_CHAOS_SEED");
    return seed.isEmpty() ? spec : spec + QStringLiteral(",seed=") + QString::fromLatin1(seed);
}

QUrl channelUrl(const ConnectionProfile &profile, const QString &session, Channel channel,
                const QString &verb)
{
    return profile.url(
        channel == Channel::Out ? EndpointFamily::Out : EndpointFamily::In,
        {QStringLiteral("realtime"), QStringLiteral("v1"), QStringLiteral("sessions"), session,
         channel == Channel::Out ? QStringLiteral("out") : QStringLiteral("in"), verb});
}

Result<QJsonObject> getJson(const ConnectionProfile &profile, const QUrl &url)
{
    RestTransport transport;
    transport.setBearer(profile.secretKey);
    HttpRequest request;
    request.url = url;
    auto answer =
        awaitResult<HttpResponse>([&](auto done) { transport.send(request, nullptr, done); }, 60s);
    if (!answer)
        return answer.error();
    return answer->jsonObject();
}

// GET /api/v1/chaos: {spec, injected:{sseDrop, append5xx, delayedRequests, slowReads}}.
Result<QJsonObject> chaosReport(const TestServerProcess &server)
{
    const ConnectionProfile profile = server.profile();
    return getJson(
        profile, profile.url(EndpointFamily::Sessions, {QStringLiteral("api"), QStringLiteral("v1"),
                                                        QStringLiteral("chaos")}));
}

QString describeReport(const QJsonObject &report)
{
    return QString::fromUtf8(QJsonDocument(report).toJson(QJsonDocument::Compact));
}

// The text record i carries, and the record body the server stores for it.
QByteArray outText(int i)
{
    return QByteArrayLiteral(R"({"type":"text-delta","id":"t","delta":")") + QByteArray::number(i) +
           "\"}";
}

QByteArray outPartId(int i)
{
    return "r" + QByteArray::number(i);
}

// Which record i this body is, exactly as written (part id and text), or -1.
int writtenIndex(const QByteArray &body)
{
    const QJsonObject object = QJsonDocument::fromJson(body).object();
    const QString id = object.value(QLatin1String("id")).toString();
    if (!id.startsWith(u'r'))
        return -1;
    bool ok = false;
    const int i = QStringView(id).sliced(1).toInt(&ok);
    if (!ok || object.value(QLatin1String("data")).toString().toUtf8() != outText(i))
        return -1;
    return i;
}

// Writes `count` .out records over HTTP, many at once, the way a careful
// agent does: a 5xx or a dropped connection is retried with the same
// X-Part-Id, so each record is stored exactly once whatever the chaos. The
// acknowledged seq of each record is what the readers are checked against.
class ChaosOutWriter
{
public:
    ChaosOutWriter(const ConnectionProfile &profile, const QString &session, int count,
                   std::function<qint64()> slowestReader)
        : m_url(channelUrl(profile, session, Channel::Out, QStringLiteral("append"))),
          m_count(count), m_slowestReader(std::move(slowestReader)), m_indexBySeq(count, -1)
    {
        for (auto &t : m_transports) {
            t = std::make_unique<RestTransport>();
            t->setBearer(profile.secretKey);
            t->setTimeout(20s);
        }
        m_pacer.setInterval(2);
        QObject::connect(&m_pacer, &QTimer::timeout, [this] { fill(); });
    }

    void start() { m_pacer.start(); }
    bool isDone() const { return m_acked == m_count || m_failure; }
    std::optional<Error> failure() const { return m_failure; }
    int acked() const { return m_acked; }
    int retries() const { return m_retries; }
    // The record index each seq was acknowledged for (-1: none).
    const QList<int> &indexBySeq() const { return m_indexBySeq; }

private:
    static constexpr int InFlightPerTransport = 6; // Qt's connections per host

    void fill()
    {
        if (isDone()) {
            m_pacer.stop();
            return;
        }
        while (m_next < m_count && m_inFlight < int(m_transports.size()) * InFlightPerTransport &&
               m_next - m_slowestReader() < MaxLead)
            send(m_next++);
    }

    void send(int i)
    {
        ++m_inFlight;
        HttpRequest request;
        request.verb = "POST";
        request.url = m_url;
        request.body = outText(i);
        request.headers.append({"X-Part-Id", outPartId(i)});
        RestTransport &transport = *m_transports[size_t(i) % m_transports.size()];
        transport.send(std::move(request), nullptr, [this, i](Result<HttpResponse> answer) {
            --m_inFlight;
            if (!answer && (answer.error().httpStatus >= 500 || answer.error().httpStatus == 0)) {
                ++m_retries;
                ++m_inFlight;
                QTimer::singleShot(int(QRandomGenerator::global()->bounded(20)), &m_pacer,
                                   [this, i] {
                                       --m_inFlight;
                                       send(i);
                                   });
                return;
            }
            const auto object = answer ? answer->jsonObject() : Result<QJsonObject>(answer.error());
            if (!object) {
                fail(object.error().message);
                return;
            }
            const qint64 seq = qint64(object->value(QLatin1String("seq")).toDouble(-1));
            if (seq < 0 || seq >= m_count) {
                fail(QStringLiteral("record %1 acknowledged with seq %2").arg(i).arg(seq));
                return;
            }
            if (m_indexBySeq[seq] != -1) {
                fail(QStringLiteral("records %1 and %2 both acknowledged with seq %3")
                         .arg(m_indexBySeq[seq])
                         .arg(i)
                         .arg(seq));
                return;
            }
            m_indexBySeq[seq] = i;
            ++m_acked;
        });
    }

    void fail(const QString &message)
    {
        if (!m_failure)
            m_failure = Error::make(message);
    }

    QUrl m_url;
    int m_count;
    std::function<qint64()> m_slowestReader;
    std::array<std::unique_ptr<RestTransport>, 4> m_transports;
    QTimer m_pacer;
    QList<int> m_indexBySeq;
    int m_next = 0;
    int m_inFlight = 0;
    int m_acked = 0;
    int m_retries = 0;
    std::optional<Error> m_failure;
};

// What one reader delivered, in delivery order: seq and which written record
// the body is.
struct ReadLog
{
    QList<qint64> seqs;
    QList<int> indexes;

    void add(qint64 seq, const QByteArray &body)
    {
        seqs.append(seq);
        indexes.append(writtenIndex(body));
    }
    qint64 count() const { return seqs.size(); }

    // Empty when every record arrived once, in order, with its own body.
    QString verify(const QList<int> &indexBySeq) const
    {
        QStringList problems;
        if (seqs.size() != indexBySeq.size())
            problems << QStringLiteral("%1 records delivered, %2 written")
                            .arg(seqs.size())
                            .arg(indexBySeq.size());
        for (qsizetype k = 0; k < seqs.size() && problems.size() < 5; ++k) {
            if (seqs[k] != k) {
                problems
                    << QStringLiteral(
                           "delivery %1 has seq %2 (previous %3): lost, repeated or out of order")
                           .arg(k)
                           .arg(seqs[k])
                           .arg(k ? seqs[k - 1] : -1);
            } else if (indexes[k] < 0 || indexes[k] != indexBySeq.value(k, -2)) {
                problems << QStringLiteral(
                                "seq %1 holds record %2, the writer stored record %3 there")
                                .arg(k)
                                .arg(indexes[k])
                                .arg(indexBySeq.value(k, -2));
            }
        }
        return problems.join(QStringLiteral("; "));
    }
};

// `sessionscope-cli tail SESSION --raw` as a user runs it, its output read
// line by line while it streams.
class CliTail
{
public:
    CliTail(const TestServerProcess &server, const QString &configDir, const QString &session)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), configDir);
        env.insert(QStringLiteral("SESSIONSCOPE_SERVER"), server.url().toString());
        env.insert(QStringLiteral("SESSIONSCOPE_KEY"), server.secretKey());
        m_process.setProcessEnvironment(env);
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, [this] { read(); });
        QObject::connect(&m_process, &QProcess::readyReadStandardError,
                         [this] { m_stderr += m_process.readAllStandardError(); });
        m_process.start(QStringLiteral(SESSIONSCOPE_CLI_BINARY),
                        {QStringLiteral("tail"), session, QStringLiteral("--raw")});
        m_process.waitForStarted(10000);
    }
    ~CliTail() { stop(); }

    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.terminate();
        if (!m_process.waitForFinished(5000)) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
        read();
    }
    bool isRunning() const { return m_process.state() != QProcess::NotRunning; }
    const ReadLog &log() const { return m_log; }
    int badLines() const { return m_badLines; }
    // Reconnect warnings the CLI printed.
    int reconnects() const { return int(m_stderr.count("reconnecting at")); }
    QByteArray stderrText() const
    {
        return "exit code " + QByteArray::number(m_process.exitCode()) +
               ", stderr: " + m_stderr.right(2000);
    }

private:
    void read()
    {
        m_pending += m_process.readAllStandardOutput();
        qsizetype start = 0;
        for (qsizetype nl = m_pending.indexOf('\n'); nl >= 0; nl = m_pending.indexOf('\n', start)) {
            const QJsonObject line =
                QJsonDocument::fromJson(
                    QByteArrayView(m_pending).sliced(start, nl - start).toByteArray())
                    .object();
            start = nl + 1;
            if (!line.contains(QLatin1String("seq_num"))) {
                ++m_badLines;
                continue;
            }
            m_log.add(qint64(line.value(QLatin1String("seq_num")).toDouble(-1)),
                      line.value(QLatin1String("body")).toString().toUtf8());
        }
        m_pending.remove(0, start);
    }

    QProcess m_process;
    QByteArray m_pending;
    QByteArray m_stderr;
    ReadLog m_log;
    int m_badLines = 0;
};

// The .in records of a session, oldest first: {data, id, seqNum}.
Result<QJsonArray> inRecords(const ConnectionProfile &profile, const QString &session)
{
    auto object =
        getJson(profile, channelUrl(profile, session, Channel::In, QStringLiteral("records")));
    if (!object)
        return object.error();
    return object->value(QLatin1String("records")).toArray();
}

// The ChatInputChunk a .in record holds (its data is the appended JSON text).
QJsonObject inChunk(const QJsonObject &record)
{
    return QJsonDocument::fromJson(record.value(QLatin1String("data")).toString().toUtf8())
        .object();
}

// Empty when `records` are exactly the sends, in send order: each part id
// once, at the seq its acknowledgement named.
QString verifyInRecords(const QJsonArray &records, const QStringList &partIds,
                        const QList<qint64> &seqs)
{
    QStringList problems;
    if (records.size() != partIds.size())
        problems << QStringLiteral("%1 records in .in, %2 sends")
                        .arg(records.size())
                        .arg(partIds.size());
    for (qsizetype k = 0; k < qMin(records.size(), partIds.size()) && problems.size() < 5; ++k) {
        const QJsonObject r = records.at(k).toObject();
        const QString id = r.value(QLatin1String("id")).toString();
        const qint64 seq = qint64(r.value(QLatin1String("seqNum")).toDouble(-1));
        if (id != partIds[k] || seq != seqs[k]) {
            problems << QStringLiteral(
                            "record %1 is %2 at seq %3, send %1 was %4 acknowledged with seq %5")
                            .arg(k)
                            .arg(id)
                            .arg(seq)
                            .arg(partIds[k])
                            .arg(seqs[k]);
        }
    }
    return problems.join(QStringLiteral("; "));
}

// The desktop's subscription settings (ui/streamconnection.cpp).
SessionOutSubscription::Options desktopOptions()
{
    SessionOutSubscription::Options options;
    options.peekSettled = false;
    return options;
}

} // namespace

class TestChaosResilience : public QObject
{
    Q_OBJECT

    QTemporaryDir m_config;

    static bool startChaosServer(TestServerProcess &server, const QString &spec)
    {
        if (!server.start(
                {QStringLiteral("--no-agent"), QStringLiteral("--chaos"), withSeed(spec)}))
            return false;
        qInfo("chaos server: %s", qPrintable(withSeed(spec)));
        return true;
    }

    // A server with `spec` and a chat session on it.
    static Result<QString> chaosSession(TestServerProcess &server, const QString &spec,
                                        const char *prefix)
    {
        if (!startChaosServer(server, spec))
            return Error::make(server.errorString());
        const auto created = createChatSession(server.profile(), uniqueName(prefix));
        if (!created)
            return created.error();
        return created->session.id;
    }

    // The report, printed, with every fault in `kinds` injected at least once.
    static QString checkInjected(const TestServerProcess &server, const QStringList &kinds,
                                 QJsonObject *out = nullptr)
    {
        const auto report = chaosReport(server);
        if (!report)
            return QStringLiteral("GET /api/v1/chaos: ") + report.error().message;
        qInfo("faults injected: %s", qPrintable(describeReport(*report)));
        const QJsonObject injected = report->value(QLatin1String("injected")).toObject();
        for (const QString &kind : kinds) {
            if (injected.value(kind).toDouble() <= 0)
                return QStringLiteral("no %1 fault was injected: %2")
                    .arg(kind, describeReport(*report));
        }
        if (out)
            *out = *report;
        return {};
    }

private Q_SLOTS:
    void badSpecIsAStartupError_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("named");
        QTest::newRow("unknown key") << "sse-drop=0.1,tcp-chaos=1"
                                     << "tcp-chaos";
        QTest::newRow("probability above 1") << "append-5xx=1.5"
                                             << "append-5xx=1.5";
        QTest::newRow("negative probability") << "slow-read=-0.1"
                                              << "slow-read=-0.1";
        QTest::newRow("backwards range") << "latency=200-100ms"
                                         << "latency=200-100ms";
        QTest::newRow("range without unit") << "latency=0-200"
                                            << "latency=0-200";
        QTest::newRow("not key=value") << "sse-drop"
                                       << "sse-drop";
        QTest::newRow("nothing on") << "seed=3"
                                    << "seed=3";
    }

    void badSpecIsAStartupError()
    {
        QFETCH(QString, spec);
        QFETCH(QString, named);
        QTemporaryDir data;
        QProcess p;
        p.start(QStringLiteral(SESSIONSCOPE_SERVER_BINARY),
                {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"),
                 data.path(), QStringLiteral("--chaos"), spec});
        QVERIFY(p.waitForFinished(20000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(err.contains(QStringLiteral("--chaos")) && err.contains(named), qPrintable(err));
        QVERIFY(p.readAllStandardOutput().isEmpty()); // never "listening on"
    }

    void chaosModeIsLoudAndCounted()
    {
        QTemporaryDir data;
        QProcess p;
        p.start(QStringLiteral(SESSIONSCOPE_SERVER_BINARY),
                {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"),
                 data.path(), QStringLiteral("--no-agent"), QStringLiteral("--secret-key"),
                 QStringLiteral("tr_dev_chaos_loud_0123456789"), QStringLiteral("--chaos"),
                 QStringLiteral("latency=1-2ms , sse-drop=0.25,seed=42")});
        QByteArray out;
        QVERIFY(waitUntil(
            [&] {
                out += p.readAllStandardOutput();
                return out.contains("listening on") || p.state() == QProcess::NotRunning;
            },
            20s));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(err.contains(QStringLiteral("CHAOS MODE")), qPrintable(err));
        QVERIFY2(err.contains(QStringLiteral("spec: sse-drop=0.25,latency=1-2ms,seed=42")),
                 qPrintable(err));

        ConnectionProfile profile = ConnectionProfile::embedded(
            QStringLiteral("loud"),
            QUrl(QString::fromUtf8(out.mid(out.indexOf("http://")).trimmed())));
        profile.secretKey = QStringLiteral("tr_dev_chaos_loud_0123456789");
        const QUrl chaosUrl =
            profile.url(EndpointFamily::Sessions,
                        {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("chaos")});
        RestTransport transport;
        HttpRequest request;
        request.url = chaosUrl;
        // Refused answers carry the header too; the report needs the secret key.
        auto refused =
            awaitResult<HttpResponse>([&](auto done) { transport.send(request, nullptr, done); });
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().httpStatus, 401);
        transport.setBearer(profile.secretKey);
        auto answer =
            awaitResult<HttpResponse>([&](auto done) { transport.send(request, nullptr, done); });
        QVERIFY2(answer.ok(), describe(answer).constData());
        QCOMPARE(answer->header("x-sessionscope-chaos").value_or(QByteArray()),
                 QByteArray("sse-drop=0.25,latency=1-2ms,seed=42"));
        const auto parsed = answer->jsonObject();
        QVERIFY2(parsed.ok(), describe(parsed).constData());
        const QJsonObject report = *parsed;
        QCOMPARE(report.value(QLatin1String("spec")).toString(),
                 QStringLiteral("sse-drop=0.25,latency=1-2ms,seed=42"));
        // Both requests so far were held 1..2 ms.
        QCOMPARE(report.value(QLatin1String("injected"))
                     .toObject()
                     .value(QLatin1String("delayedRequests"))
                     .toInt(),
                 2);
        p.kill();
        p.waitForFinished(5000);
    }

    void appendRetriesAreIdempotent()
    {
        TestServerProcess server;
        const auto chaos = chaosSession(server, QStringLiteral("append-5xx=0.5"), "chaos-idem");
        QVERIFY2(chaos.ok(), describe(chaos).constData());
        const QString session = *chaos;
        RestTransport transport;
        transport.setBearer(server.profile().secretKey);
        const QUrl url =
            channelUrl(server.profile(), session, Channel::Out, QStringLiteral("append"));
        // Each part id is sent until it is acknowledged, then once more: the
        // repeat answers the same seq and stores nothing.
        constexpr int Parts = 40;
        int storedThenFailed = 0;
        int failedBeforeStoring = 0;
        const auto appendUntilAcknowledged = [&](int i) -> qint64 {
            for (int attempt = 0; attempt < 60; ++attempt) {
                HttpRequest request;
                request.verb = "POST";
                request.url = url;
                request.body = outText(i);
                request.headers.append({"X-Part-Id", outPartId(i)});
                auto answer = awaitResult<HttpResponse>(
                    [&](auto done) { transport.send(request, nullptr, done); });
                if (answer) {
                    const auto object = answer->jsonObject();
                    return object ? qint64(object->value(QLatin1String("seq")).toDouble(-1)) : -4;
                }
                if (answer.error().httpStatus != 503)
                    return -2;
                (answer.error().message.contains(QLatin1String("nothing was stored"))
                     ? failedBeforeStoring
                     : storedThenFailed)++;
            }
            return -3;
        };
        for (int i = 0; i < Parts; ++i) {
            const qint64 seq = appendUntilAcknowledged(i);
            QCOMPARE(seq, qint64(i));
            QCOMPARE(appendUntilAcknowledged(i), seq);
        }
        QVERIFY2(storedThenFailed > 0 && failedBeforeStoring > 0,
                 qPrintable(QStringLiteral("%1 after, %2 before")
                                .arg(storedThenFailed)
                                .arg(failedBeforeStoring)));
        const auto records =
            getJson(server.profile(),
                    channelUrl(server.profile(), session, Channel::Out, QStringLiteral("records")));
        QVERIFY2(records.ok(), describe(records).constData());
        QCOMPARE(records->value(QLatin1String("records")).toArray().size(), Parts);
        qInfo("%d part ids, each retried until acknowledged and then repeated: %d injected 503s "
              "after storing, %d "
              "before; .out holds exactly %d records",
              Parts, storedThenFailed, failedBeforeStoring, Parts);
    }

    void outStreamLosesNothingUnderChaos()
    {
        TestServerProcess server;
        // Each kind must show up even on the sanitizer run's ~50 connections,
        // hence one slow read in five.
        const auto chaos = chaosSession(
            server, QStringLiteral("sse-drop=0.01,slow-read=0.2,latency=0-10ms,append-5xx=0.01"),
            "chaos-out");
        QVERIFY2(chaos.ok(), describe(chaos).constData());
        const QString session = *chaos;

        // The desktop's path: the subscription, its records into StreamIngest
        // and the record model the stream inspector shows.
        SessionOutSubscription sub(server.profile(), session);
        sub.setOptions(desktopOptions());
        StreamIngest ingest;
        StreamRecordModel model;
        ingest.setRecordModel(&model);
        ReadLog desktop;
        connect(&sub, &SessionOutSubscription::recordsReceived, this,
                [&](const QList<StreamRecord> &batch) {
                    for (const StreamRecord &r : batch)
                        desktop.add(r.seqNum, r.body);
                    ingest.feedRecords(Channel::Out, batch);
                });
        QSignalSpy backoffs(&sub, &SessionOutSubscription::backingOff);
        QSignalSpy failures(&sub, &SessionOutSubscription::failed);

        CliTail cli(server, m_config.path(), session);
        ChaosOutWriter writer(server.profile(), session, OutRecords,
                              [&] { return qMin(desktop.count(), cli.log().count()); });
        QElapsedTimer clock;
        clock.start();
        sub.start();
        writer.start();
        const auto status = [&] {
            return QStringLiteral("written %1/%2 (%3 retries), desktop %4 (%5 connections, state "
                                  "%6), cli %7, %8 ms")
                .arg(writer.acked())
                .arg(OutRecords)
                .arg(writer.retries())
                .arg(desktop.count())
                .arg(sub.connectionCount())
                .arg(SessionOutSubscription::stateName(sub.state()))
                .arg(cli.log().count())
                .arg(clock.elapsed());
        };
        // A reader that gave up stops the writer (it waits for the slowest
        // reader), so that ends the wait too.
        const auto readerGone = [&] { return !failures.isEmpty() || !cli.isRunning(); };
        QVERIFY2(waitUntil([&] { return writer.isDone() || readerGone(); }, 170s),
                 qPrintable(status()));
        const qint64 writeMs = clock.elapsed();
        QVERIFY2(waitUntil(
                     [&] {
                         return (desktop.count() >= OutRecords &&
                                 cli.log().count() >= OutRecords) ||
                                readerGone();
                     },
                     60s),
                 qPrintable(status()));
        QVERIFY2(failures.isEmpty(), qPrintable(sub.failure().message));
        QVERIFY2(cli.isRunning(), qPrintable(QStringLiteral("the cli tail exited: ") +
                                             QString::fromUtf8(cli.stderrText())));
        QVERIFY2(!writer.failure(), qPrintable(writer.failure().value_or(Error()).message));
        // Anything extra (a repeat) would come now.
        QTest::qWait(300);
        cli.stop();
        sub.stop();
        ingest.flush();
        QVERIFY(waitUntil([&] { return model.rowCount() >= desktop.count(); }, 10s));
        qInfo("%s", qPrintable(status()));

        QJsonObject report;
        const QString injected =
            checkInjected(server,
                          {QStringLiteral("sseDrop"), QStringLiteral("slowReads"),
                           QStringLiteral("delayedRequests"), QStringLiteral("append5xx")},
                          &report);
        QVERIFY2(injected.isEmpty(), qPrintable(injected));

        const QString desktopProblems = desktop.verify(writer.indexBySeq());
        QVERIFY2(desktopProblems.isEmpty(),
                 qPrintable(QStringLiteral("desktop subscription: ") + desktopProblems));
        QCOMPARE(model.rowCount(), OutRecords);
        for (int row = 0; row < OutRecords; ++row) {
            const qint64 seq = model.index(row, 0).data(StreamRecordModel::SeqRole).toLongLong();
            if (seq != row)
                QFAIL(qPrintable(QStringLiteral("model row %1 holds seq %2").arg(row).arg(seq)));
        }
        const QString cliProblems = cli.log().verify(writer.indexBySeq());
        QVERIFY2(cliProblems.isEmpty(), qPrintable(QStringLiteral("cli tail: ") + cliProblems));
        QCOMPARE(cli.badLines(), 0);
        // Reconnects with Last-Event-ID are what carried the readers through.
        QVERIFY(backoffs.size() > 0);
        QVERIFY(cli.reconnects() > 0);
        qInfo("checked %d .out records in order with matching bodies, twice (desktop subscription "
              "+ record model, "
              "cli tail); written in %lld ms with %d append retries; desktop reconnected %d times "
              "over %d "
              "connections, cli %d times",
              OutRecords, writeMs, writer.retries(), int(backoffs.size()), sub.connectionCount(),
              cli.reconnects());
    }

    void inAppenderSendsExactlyOnceUnderChaos()
    {
        TestServerProcess server;
        const auto chaos =
            chaosSession(server, QStringLiteral("append-5xx=0.05,latency=0-40ms"), "chaos-in");
        QVERIFY2(chaos.ok(), describe(chaos).constData());
        const QString session = *chaos;

        InAppender appender(server.profile(), session);
        QHash<QString, int> appendedSignals;
        connect(&appender, &InAppender::appended, this,
                [&](const QString &partId, qint64) { ++appendedSignals[partId]; });
        QSignalSpy retrying(&appender, &InAppender::retrying);
        QSignalSpy failed(&appender, &InAppender::failed);

        // One after another, as a user types: each send waits for the previous ack.
        QStringList partIds;
        QList<qint64> seqs;
        QList<int> callbacks(InSends, 0);
        int attempts = 0;
        std::optional<Error> failure;
        std::function<void()> sendNext = [&] {
            const int i = int(partIds.size());
            if (i >= InSends || failure)
                return;
            partIds.append(appender.sendMessage(QStringLiteral("m%1").arg(i),
                                                QJsonObject{{"userId", "chaos"}}, this,
                                                [&, i](Result<InAppendResult> r) {
                                                    ++callbacks[i];
                                                    if (!r) {
                                                        failure = r.error();
                                                        return;
                                                    }
                                                    seqs.append(r->seq);
                                                    attempts += r->attempts;
                                                    sendNext();
                                                }));
        };
        QElapsedTimer clock;
        clock.start();
        sendNext();
        QVERIFY2(waitUntil([&] { return seqs.size() == InSends || failure; }, 150s),
                 qPrintable(
                     QStringLiteral("%1 of %2 sends acknowledged").arg(seqs.size()).arg(InSends)));
        QVERIFY2(!failure, qPrintable(failure.value_or(Error()).message));
        const qint64 sendMs = clock.elapsed();
        QTest::qWait(200); // a second callback or signal would come now
        QVERIFY(callbacks == QList<int>(InSends, 1));
        QCOMPARE(appendedSignals.size(), InSends);
        for (const QString &id : std::as_const(partIds))
            QCOMPARE(appendedSignals.value(id), 1);
        QVERIFY(failed.isEmpty());
        QCOMPARE(attempts - InSends, int(retrying.size()));

        const QString injected =
            checkInjected(server, {QStringLiteral("append5xx"), QStringLiteral("delayedRequests")});
        QVERIFY2(injected.isEmpty(), qPrintable(injected));
        QVERIFY(retrying.size() > 0);

        const auto records = inRecords(server.profile(), session);
        QVERIFY2(records.ok(), describe(records).constData());
        const QString problems = verifyInRecords(*records, partIds, seqs);
        QVERIFY2(problems.isEmpty(), qPrintable(problems));
        for (int i = 0; i < InSends; ++i) {
            const QJsonObject payload =
                inChunk(records->at(i).toObject()).value(QLatin1String("payload")).toObject();
            const QJsonArray parts = payload.value(QLatin1String("message"))
                                         .toObject()
                                         .value(QLatin1String("parts"))
                                         .toArray();
            QCOMPARE(parts.at(0).toObject().value(QLatin1String("text")).toString(),
                     QStringLiteral("m%1").arg(i));
        }
        qInfo("InAppender: %d sends acknowledged once each in %lld ms, %d retries; .in holds "
              "exactly those %d "
              "records in send order",
              InSends, sendMs, int(retrying.size()), InSends);
    }

    void cliAppendsExactlyOnceUnderChaos()
    {
        TestServerProcess server;
        const auto chaos =
            chaosSession(server, QStringLiteral("append-5xx=0.1,latency=0-40ms"), "chaos-cli");
        QVERIFY2(chaos.ok(), describe(chaos).constData());
        const QString session = *chaos;

        // `stop` is the CLI's plain .in append (InAppender underneath, with its
        // retries); `send` also waits for an agent's turn, which --no-agent has not.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), m_config.path());
        env.insert(QStringLiteral("SESSIONSCOPE_SERVER"), server.url().toString());
        env.insert(QStringLiteral("SESSIONSCOPE_KEY"), server.secretKey());
        QStringList partIds;
        QList<qint64> seqs;
        int retries = 0;
        QElapsedTimer clock;
        clock.start();
        for (int i = 0; i < CliSends; ++i) {
            QProcess p;
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(SESSIONSCOPE_CLI_BINARY),
                    {QStringLiteral("stop"), session, QStringLiteral("--message"),
                     QStringLiteral("s%1").arg(i)});
            QVERIFY(p.waitForFinished(60000));
            const QByteArray out = p.readAllStandardOutput();
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                     qPrintable(QStringLiteral("send %1: exit %2: %3")
                                    .arg(i)
                                    .arg(p.exitCode())
                                    .arg(QString::fromUtf8(p.readAllStandardError()))));
            const QJsonObject answer = QJsonDocument::fromJson(out).object();
            QVERIFY2(answer.contains(QLatin1String("partId")), out.constData());
            partIds.append(answer.value(QLatin1String("partId")).toString());
            seqs.append(qint64(answer.value(QLatin1String("seq")).toDouble(-1)));
            retries += answer.value(QLatin1String("attempts")).toInt() - 1;
        }
        const qint64 sendMs = clock.elapsed();

        const QString injected =
            checkInjected(server, {QStringLiteral("append5xx"), QStringLiteral("delayedRequests")});
        QVERIFY2(injected.isEmpty(), qPrintable(injected));
        QVERIFY(retries > 0);

        const auto records = inRecords(server.profile(), session);
        QVERIFY2(records.ok(), describe(records).constData());
        const QString problems = verifyInRecords(*records, partIds, seqs);
        QVERIFY2(problems.isEmpty(), qPrintable(problems));
        for (int i = 0; i < CliSends; ++i) {
            const QJsonObject chunk = inChunk(records->at(i).toObject());
            QCOMPARE(chunk.value(QLatin1String("kind")).toString(), QStringLiteral("stop"));
            QCOMPARE(chunk.value(QLatin1String("message")).toString(),
                     QStringLiteral("s%1").arg(i));
        }
        qInfo("cli stop: %d sends (one process each) acknowledged once each in %lld ms, %d "
              "retries; .in holds "
              "exactly those records in order",
              CliSends, sendMs, retries);
    }
};

QTEST_MAIN(TestChaosResilience)
#include "tst_chaosresilience.moc"
