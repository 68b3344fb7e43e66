// Runs the built sessionscope-cli as a user would and checks what it prints.

#include "tests/net/netfixtures.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run runCli(const QStringList &args, const QByteArray &stdinData = {}, bool feedStdin = false)
{
    QProcess process;
    process.start(QStringLiteral(SESSIONSCOPE_CLI_PATH), args);
    if (!process.waitForStarted(10000))
        qFatal("cannot start %s", SESSIONSCOPE_CLI_PATH);
    if (feedStdin)
        process.write(stdinData);
    process.closeWriteChannel();
    if (!process.waitForFinished(60000)) {
        process.kill();
        process.waitForFinished(5000);
        return {};
    }
    Run run;
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

QList<json> jsonLines(const QByteArray &text)
{
    QList<json> out;
    for (const QByteArray &line : text.split('\n')) {
        if (line.isEmpty())
            continue;
        json value = json::parse(line.constData(), line.constData() + line.size(), nullptr, false);
        if (value.is_discarded())
            qWarning("not a JSON line: %s", line.constData());
        out.append(std::move(value));
    }
    return out;
}

// `records` is a list: a braced single json would be copied, not wrapped in an array.
QByteArray batchEvent(std::initializer_list<json> recordList)
{
    json records = json::array();
    for (const json &record : recordList)
        records.push_back(record);
    return "event: batch\ndata: " + QByteArray::fromStdString(json({{"records", records}}).dump()) + "\n\n";
}

json inRecordJson(qint64 seq, const json &chunk)
{
    return {{"seq_num", seq},
            {"timestamp", 100 + seq},
            {"body", json({{"data", chunk.dump()}, {"id", "in" + std::to_string(seq)}}).dump()},
            {"headers", json::array()}};
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void transcriptMatchesExpectation();
    void transcriptFromStdin();
    void transcriptOfAnInStream();
    void decodeFixture();
    void decodeStdinMatchesFile();
    void decodeStreamsIncrementally();
    void decodeBrokenStream();
    void decodeMissingFile();
    void usage_data();
    void usage();
    void helpAndVersion();

private:
    QTemporaryDir m_dir;
};

void TestCli::transcriptMatchesExpectation()
{
    const Run run = runCli({QStringLiteral("transcript"), fixturePath(QStringLiteral("two-turns.sse"))});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.err.isEmpty(), run.err.constData());
    const json actual = json::parse(run.out.toStdString(), nullptr, false);
    QVERIFY2(!actual.is_discarded(), run.out.constData());
    const json expected = json::parse(readFixture(QStringLiteral("two-turns.expect.json")).toStdString());
    // nlohmann::json objects compare member by member, whatever the key order.
    QVERIFY2(actual == expected, qPrintable(QString::fromStdString(json::diff(expected, actual).dump())));
}

void TestCli::transcriptFromStdin()
{
    const Run run = runCli({QStringLiteral("transcript"), QStringLiteral("-")},
                           readFixture(QStringLiteral("two-turns.sse")), true);
    QCOMPARE(run.exitCode, 0);
    const json expected = json::parse(readFixture(QStringLiteral("two-turns.expect.json")).toStdString());
    QVERIFY(json::parse(run.out.toStdString(), nullptr, false) == expected);
}

void TestCli::transcriptOfAnInStream()
{
    const json hello = {{"kind", "message"},
                        {"payload",
                         {{"chatId", "c"},
                          {"trigger", "submit-message"},
                          {"message", {{"id", "u1"}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", "Hello"}}}}}}}}};
    const json stop = {{"kind", "stop"}};
    const QByteArray capture = batchEvent({inRecordJson(0, hello)}) + batchEvent({inRecordJson(1, stop)}) +
                               "data: [DONE]\n\n";
    const json expected = json::parse(R"({"lastSeq":1,"records":2,"commands":0,"controls":[],
        "messages":[{"id":"u1","role":"user","text":"Hello","reasoning":"","tools":[]}]})");

    // Told by the body shape...
    Run run = runCli({QStringLiteral("transcript"), QStringLiteral("-")}, capture, true);
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(json::parse(run.out.toStdString(), nullptr, false) == expected, run.out.constData());
    // ...or by the flag.
    run = runCli({QStringLiteral("transcript"), QStringLiteral("--channel"), QStringLiteral("in"), QStringLiteral("-")},
                 capture, true);
    QCOMPARE(run.exitCode, 0);
    QVERIFY(json::parse(run.out.toStdString(), nullptr, false) == expected);
    // Forcing the wrong channel is reported.
    run = runCli({QStringLiteral("transcript"), QStringLiteral("--channel=out"), QStringLiteral("-")}, capture, true);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("an .in-shaped body (data is a string) on .out"), run.err.constData());
}

void TestCli::decodeFixture()
{
    const Run run = runCli({QStringLiteral("decode"), fixturePath(QStringLiteral("two-turns.sse"))});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.err.isEmpty(), run.err.constData());
    const QList<json> lines = jsonLines(run.out);
    QCOMPARE(lines.size(), 22);
    for (int seq = 0; seq < 22; ++seq) {
        const json &line = lines[seq];
        QCOMPARE(line["seq"].get<int>(), seq);
        QVERIFY(line["timestamp"].is_number_integer());
        const std::string kind = line["kind"].get<std::string>();
        if (seq == 9 || seq == 20) {
            QCOMPARE(kind, std::string("control"));
            QCOMPARE(line["subtype"].get<std::string>(), std::string("turn-complete"));
            QCOMPARE(line["sessionInEventId"].get<std::string>(), std::string(seq == 9 ? "0" : "1"));
            QVERIFY(!line.contains("chunkType"));
        } else if (seq == 10 || seq == 21) {
            QCOMPARE(kind, std::string("command"));
            QCOMPARE(line["op"].get<std::string>(), std::string("trim"));
        } else {
            QCOMPARE(kind, std::string("data"));
            QVERIFY(line["chunkType"].is_string());
            QCOMPARE(line["partId"].get<std::string>(), "p" + std::to_string(seq));
        }
    }
    QVERIFY(lines[0] == json::parse(R"({"seq":0,"kind":"data","timestamp":1763700000000,"chunkType":"start","partId":"p0"})"));
    QCOMPARE(lines[5]["chunkType"].get<std::string>(), std::string("text-delta"));
    QCOMPARE(lines[19]["chunkType"].get<std::string>(), std::string("finish"));
    // The token in the control record never reaches the output.
    QVERIFY(!run.out.contains("eyJ"));
}

void TestCli::decodeStdinMatchesFile()
{
    const QByteArray fixture = readFixture(QStringLiteral("two-turns.sse"));
    const Run fromFile = runCli({QStringLiteral("decode"), fixturePath(QStringLiteral("two-turns.sse"))});
    // CRLF line ends decode the same.
    const Run fromStdin = runCli({QStringLiteral("decode"), QStringLiteral("-")},
                                 QByteArray(fixture).replace("\n", "\r\n"), true);
    QCOMPARE(fromStdin.exitCode, 0);
    QCOMPARE(fromStdin.out, fromFile.out);
}

void TestCli::decodeStreamsIncrementally()
{
    // Half the capture goes in and its records come out before the input ends:
    // the CLI reads as it goes instead of waiting for the whole file.
    const QByteArray fixture = readFixture(QStringLiteral("two-turns.sse"));
    const qsizetype half = fixture.indexOf("id: 11,");
    QVERIFY(half > 0);
    QProcess process;
    process.start(QStringLiteral(SESSIONSCOPE_CLI_PATH), {QStringLiteral("decode"), QStringLiteral("-")});
    QVERIFY(process.waitForStarted(10000));
    process.write(fixture.left(half));
    QVERIFY(process.waitForBytesWritten(10000));
    QByteArray early;
    QElapsedTimer timer;
    timer.start();
    while (early.count('\n') < 11 && timer.elapsed() < 20000) {
        process.waitForReadyRead(1000);
        early += process.readAllStandardOutput();
    }
    QCOMPARE(early.count('\n'), 11);
    QCOMPARE(process.state(), QProcess::Running);
    process.write(fixture.mid(half));
    process.closeWriteChannel();
    QVERIFY(process.waitForFinished(20000));
    early += process.readAllStandardOutput();
    QCOMPARE(process.exitCode(), 0);
    QCOMPARE(early.count('\n'), 22);
}

void TestCli::decodeBrokenStream()
{
    const json good0 = {{"seq_num", 0}, {"timestamp", 1}, {"body", R"({"data":{"type":"start"},"id":"a"})"}, {"headers", json::array()}};
    const json good3 = {{"seq_num", 3}, {"timestamp", 4}, {"body", R"({"data":{"type":"finish"},"id":"b"})"}, {"headers", json::array()}};
    const json noSeq = {{"timestamp", 2}, {"body", ""}, {"headers", json::array()}};
    const json badBody = {{"seq_num", 2}, {"timestamp", 3}, {"body", R"({"data":)"}, {"headers", json::array()}};
    const QByteArray capture = batchEvent({good0}) + "event: batch\ndata: {\"records\":[{\"seq_num\":1,\"ti\n\n" +
                               batchEvent({noSeq, badBody}) + "event: error\ndata: {\"message\":\"overloaded\"}\n\n" +
                               batchEvent({good3}) + "data: [DONE]\n\nevent: batch\ndata: {\"records\":[]";
    const QString path = m_dir.filePath(QStringLiteral("broken.sse"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(capture);
    file.close();

    const Run run = runCli({QStringLiteral("decode"), path});
    QCOMPARE(run.exitCode, 1);
    const QList<json> out = jsonLines(run.out);
    QCOMPARE(out.size(), 3); // seq 0, seq 2 (its body is broken, the record is not), seq 3
    QCOMPARE(out[0]["seq"].get<int>(), 0);
    QCOMPARE(out[1]["seq"].get<int>(), 2);
    QVERIFY(!out[1].contains("chunkType"));
    QCOMPARE(out[2]["chunkType"].get<std::string>(), std::string("finish"));

    const QList<json> err = jsonLines(run.err);
    QStringList messages;
    for (const json &line : err) {
        QVERIFY(line.contains("error"));
        messages.append(QString::fromStdString(line["error"].get<std::string>()));
    }
    QCOMPARE(messages.size(), 5);
    QVERIFY2(messages[0].startsWith(QStringLiteral("seq 1: malformed JSON")), qPrintable(messages[0]));
    QCOMPARE(err[0]["seq"].get<int>(), 1);
    QCOMPARE(messages[1], QStringLiteral("seq 2: body is not JSON: unexpected end of input at byte 8"));
    QCOMPARE(err[1]["seq"].get<int>(), 2);
    QCOMPARE(messages[2], QStringLiteral("record 0 of the batch: missing seq_num"));
    QCOMPARE(messages[3], QStringLiteral("the server sent an error event: overloaded"));
    QVERIFY2(messages[4].startsWith(QStringLiteral("the stream ended inside an event")), qPrintable(messages[4]));

    // The same capture is fine up to the [DONE].
    const Run clean = runCli({QStringLiteral("decode"), QStringLiteral("-")},
                             batchEvent({good0}) + batchEvent({good3}) + "data: [DONE]\n\n", true);
    QCOMPARE(clean.exitCode, 0);
    QVERIFY(clean.err.isEmpty());
}

void TestCli::decodeMissingFile()
{
    const Run run = runCli({QStringLiteral("decode"), m_dir.filePath(QStringLiteral("nope.sse"))});
    QCOMPARE(run.exitCode, 1);
    const QList<json> err = jsonLines(run.err);
    QCOMPARE(err.size(), 1);
    QVERIFY2(QString::fromStdString(err[0]["error"].get<std::string>()).startsWith(QStringLiteral("cannot open")),
             run.err.constData());
    const Run directory = runCli({QStringLiteral("transcript"), m_dir.path()});
    QCOMPARE(directory.exitCode, 1);
    QVERIFY2(directory.err.contains("cannot read"), directory.err.constData());
}

void TestCli::usage_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("nothing") << QStringList{};
    QTest::newRow("unknown verb") << QStringList{QStringLiteral("frobnicate")};
    QTest::newRow("unknown option") << QStringList{QStringLiteral("--frobnicate")};
    QTest::newRow("decode without file") << QStringList{QStringLiteral("decode")};
    QTest::newRow("decode two files") << QStringList{QStringLiteral("decode"), QStringLiteral("a"), QStringLiteral("b")};
    QTest::newRow("decode bad option") << QStringList{QStringLiteral("decode"), QStringLiteral("--fast"), QStringLiteral("-")};
    QTest::newRow("decode has no --channel")
        << QStringList{QStringLiteral("decode"), QStringLiteral("--channel"), QStringLiteral("in"), QStringLiteral("-")};
    QTest::newRow("transcript bad channel")
        << QStringList{QStringLiteral("transcript"), QStringLiteral("--channel"), QStringLiteral("sideways"), QStringLiteral("-")};
    QTest::newRow("transcript channel without value") << QStringList{QStringLiteral("transcript"), QStringLiteral("--channel")};
}

void TestCli::usage()
{
    QFETCH(QStringList, args);
    const Run run = runCli(args);
    QCOMPARE(run.exitCode, 2);
    QVERIFY(run.out.isEmpty());
    QVERIFY(!run.err.isEmpty());
}

void TestCli::helpAndVersion()
{
    const Run version = runCli({QStringLiteral("--version")});
    QCOMPARE(version.exitCode, 0);
    QCOMPARE(version.out, QByteArray("sessionscope-cli " SESSIONSCOPE_VERSION "\n"));

    const Run help = runCli({QStringLiteral("--help")});
    QCOMPARE(help.exitCode, 0);
    QVERIFY(help.out.contains("decode FILE|-"));
    QVERIFY(help.out.contains("transcript"));

    for (const char *verb : {"decode", "transcript"}) {
        const Run verbHelp = runCli({QLatin1String(verb), QStringLiteral("--help")});
        QCOMPARE(verbHelp.exitCode, 0);
        QVERIFY(verbHelp.out.startsWith(QByteArray("Usage: sessionscope-cli ") + verb));
    }
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
