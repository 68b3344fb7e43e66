#include "net/chunkbody.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include "tests/net/netfixtures.h"

#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

S2Event decodeBatch(const QByteArray &data)
{
    S2BatchDecoder decoder;
    return decoder.decode(SseEvent{"batch", data, {}});
}

// One record as S2 writes it.
QByteArray recordJson(qint64 seq, const QByteArray &body, const QByteArray &headers = "[]")
{
    return "{\"seq_num\":" + QByteArray::number(seq) + ",\"timestamp\":" + QByteArray::number(1000 + seq) +
           ",\"body\":" + QByteArray::fromStdString(json(body.toStdString()).dump()) + ",\"headers\":" + headers + "}";
}

QByteArray outBody(const QByteArray &chunkJson, const QByteArray &partId)
{
    return "{\"data\":" + chunkJson + ",\"id\":\"" + partId + "\"}";
}

QStringList messages(const QList<Error> &errors)
{
    QStringList out;
    for (const Error &e : errors)
        out.append(e.message);
    return out;
}

struct FixtureRecord
{
    qint64 seq;
    qint64 timestamp;
    RecordKind kind;
    const char *chunkType; // data: chunk type; control: subtype; command: op
};

// two-turns.sse, read off the file by hand.
const FixtureRecord TwoTurns[] = {
    {0, 1763700000000, RecordKind::Data, "start"},
    {1, 1763700000007, RecordKind::Data, "start-step"},
    {2, 1763700000014, RecordKind::Data, "text-start"},
    {3, 1763700000021, RecordKind::Data, "text-delta"},
    {4, 1763700000028, RecordKind::Data, "text-delta"},
    {5, 1763700000035, RecordKind::Data, "text-delta"},
    {6, 1763700000042, RecordKind::Data, "text-end"},
    {7, 1763700000049, RecordKind::Data, "finish-step"},
    {8, 1763700000056, RecordKind::Data, "finish"},
    {9, 1763700000063, RecordKind::Control, "turn-complete"},
    {10, 1763700000066, RecordKind::Command, "trim"},
    {11, 1763700000073, RecordKind::Data, "start"},
    {12, 1763700000080, RecordKind::Data, "start-step"},
    {13, 1763700000087, RecordKind::Data, "text-start"},
    {14, 1763700000094, RecordKind::Data, "text-delta"},
    {15, 1763700000101, RecordKind::Data, "text-delta"},
    {16, 1763700000108, RecordKind::Data, "text-delta"},
    {17, 1763700000115, RecordKind::Data, "text-end"},
    {18, 1763700000122, RecordKind::Data, "finish-step"},
    {19, 1763700000129, RecordKind::Data, "finish"},
    {20, 1763700000136, RecordKind::Control, "turn-complete"},
    {21, 1763700000139, RecordKind::Command, "trim"},
};

} // namespace

class TestS2BatchDecoder : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void twoTurnsFixture();
    void twoTurnsBodies();
    void allFixturesDecodeCleanly();
    void eventTypes();
    void serverErrorMessages_data();
    void serverErrorMessages();
    void recordKinds();
    void unknownMembersAreSkipped();
    void stringEscapes();
    void malformedBatches_data();
    void malformedBatches();
    void badRecordKeepsTheOthers();
    void malformedStreamGoesOn();
    void pings();
    void tail();
    void decodeBodyShapes();
    void decodeBodyErrors_data();
    void decodeBodyErrors();
    void compactAndGeneralLayoutsAgree();
    void decodeIntoReusesTheEvent();
    void decodedChunkMembers();
    void decodedChunkOfAnInBody();
};

void TestS2BatchDecoder::twoTurnsFixture()
{
    const QList<SseEvent> sse = parseWhole(readFixture(QStringLiteral("two-turns.sse")));
    S2BatchDecoder decoder;
    QList<StreamRecord> records;
    QList<qint64> pings;
    int batches = 0;
    int done = 0;
    for (const SseEvent &event : sse) {
        const S2Event decoded = decoder.decode(event);
        QVERIFY2(decoded.errors.isEmpty(), qPrintable(messages(decoded.errors).join(u'\n')));
        switch (decoded.type) {
        case S2Event::Type::Batch:
            ++batches;
            QCOMPARE(decoded.records.size(), 1);
            // Every batch's tail: seq 22 (the next to be written), the record's timestamp.
            QVERIFY(decoded.tail.has_value());
            QCOMPARE(decoded.tail->seqNum, 22);
            QCOMPARE(decoded.tail->timestamp, decoded.records.first().timestamp);
            records += decoded.records;
            break;
        case S2Event::Type::Ping:
            pings.append(decoded.pingTimestamp);
            QVERIFY(decoded.tail.has_value());
            QCOMPARE(decoded.tail->seqNum, 22);
            QCOMPARE(decoded.tail->timestamp, records.last().timestamp);
            break;
        case S2Event::Type::Done:
            ++done;
            QCOMPARE(&event, &sse.last());
            break;
        default:
            QFAIL("unexpected event type");
        }
    }
    QCOMPARE(batches, 22);
    QCOMPARE(done, 1);
    QCOMPARE(pings, (QList<qint64>{1763700000029, 1763700000064, 1763700000095, 1763700000130}));
    QCOMPARE(decoder.lastSeq(), 21);
    QCOMPARE(decoder.recordCount(), 22);

    QCOMPARE(records.size(), qsizetype(std::size(TwoTurns)));
    for (qsizetype i = 0; i < records.size(); ++i) {
        const StreamRecord &r = records[i];
        const FixtureRecord &want = TwoTurns[i];
        QCOMPARE(r.seqNum, want.seq);
        QCOMPARE(r.timestamp, want.timestamp);
        QCOMPARE(r.kind, want.kind);
        switch (want.kind) {
        case RecordKind::Data:
            QVERIFY(r.headers.isEmpty());
            QVERIFY(r.subtype().isEmpty());
            QVERIFY(!sessionInEventId(r).has_value());
            break;
        case RecordKind::Control:
            QVERIFY(r.body.isEmpty());
            QCOMPARE(r.headers.size(), 3);
            QCOMPARE(r.headers[0], StreamHeader("trigger-control", "turn-complete"));
            QCOMPARE(r.headers[1].first, QByteArray("public-access-token"));
            QVERIFY(r.headers[1].second.startsWith("eyJhbGciOiJIUzI1NiJ9."));
            QVERIFY(r.headers[1].second.endsWith(".sig"));
            QCOMPARE(r.headers[2], StreamHeader("session-in-event-id", want.seq == 9 ? "0" : "1"));
            QCOMPARE(r.subtype(), QByteArray(want.chunkType));
            QCOMPARE(sessionInEventId(r), QByteArray(want.seq == 9 ? "0" : "1"));
            QCOMPARE(publicAccessToken(r), r.headers[1].second);
            break;
        case RecordKind::Command:
            QCOMPARE(r.headers.size(), 1);
            QCOMPARE(r.headers[0], StreamHeader("", "trim"));
            QCOMPARE(r.subtype(), QByteArray("trim"));
            QCOMPARE(r.body.size(), 8);
            // \u0000 x8 and \u0000 x7 + \t: JSON escapes come out as raw bytes.
            QCOMPARE(r.body, want.seq == 10 ? QByteArray(8, '\0') : QByteArray(7, '\0') + '\t');
            QVERIFY(!sessionInEventId(r).has_value());
            break;
        }
    }
}

void TestS2BatchDecoder::twoTurnsBodies()
{
    const QList<SseEvent> sse = parseWhole(readFixture(QStringLiteral("two-turns.sse")));
    S2BatchDecoder decoder;
    QStringList deltas;
    QStringList messageIds;
    for (const SseEvent &event : sse) {
        for (const StreamRecord &r : decoder.decode(event).records) {
            const FixtureRecord &want = TwoTurns[r.seqNum];
            const Result<DecodedBody> body = decodeBody(r);
            if (r.kind != RecordKind::Data) {
                QVERIFY(!body.ok());
                QCOMPARE(body.error().seq, r.seqNum);
                continue;
            }
            QVERIFY2(body.ok(), qPrintable(errorText(body)));
            const Result<BodyInfo> info = decodeBodyInfo(r);
            QVERIFY2(info.ok(), qPrintable(errorText(info)));
            QCOMPARE(info->partId, body->partId);
            QCOMPARE(info->chunkType, body->chunkType);
            QCOMPARE(info->dataWasString, body->dataWasString);
            QCOMPARE(body->partId, "p" + QByteArray::number(r.seqNum));
            QCOMPARE(body->chunkType, QByteArray(want.chunkType));
            QVERIFY(!body->dataWasString);
            QCOMPARE(body->channel(), Channel::Out);
            QCOMPARE(body->data["type"].get<std::string>(), std::string(want.chunkType));
            if (body->chunkType == "text-delta") {
                QCOMPARE(body->data["id"].get<std::string>(), std::string("t1"));
                deltas.append(QString::fromStdString(body->data["delta"].get<std::string>()));
            } else if (body->chunkType == "start") {
                messageIds.append(QString::fromStdString(body->data["messageId"].get<std::string>()));
            } else if (body->chunkType == "finish") {
                QCOMPARE(body->data["finishReason"].get<std::string>(), std::string("stop"));
            }
        }
    }
    QCOMPARE(deltas, (QStringList{"Hello", ", ", "world", "Hello", ", ", "world"}));
    QCOMPARE(messageIds, (QStringList{"JIVcwoE0UhCLLoNf", "TmjbJRIdtqllcDfe"}));
}

void TestS2BatchDecoder::allFixturesDecodeCleanly()
{
    for (const QString &name : sseFixtures()) {
        S2BatchDecoder decoder;
        qint64 previous = -1;
        for (const SseEvent &event : parseWhole(readFixture(name))) {
            const S2Event decoded = decoder.decode(event);
            QVERIFY2(decoded.errors.isEmpty(), qPrintable(name + QStringLiteral(": ") + messages(decoded.errors).join(u'\n')));
            QVERIFY(decoded.type != S2Event::Type::Other && decoded.type != S2Event::Type::Error);
            for (const StreamRecord &r : decoded.records) {
                QVERIFY2(r.seqNum > previous, qPrintable(name));
                previous = r.seqNum;
                if (r.kind == RecordKind::Data)
                    QVERIFY2(decodeBody(r).ok(), qPrintable(name + QStringLiteral(": ") + errorText(decodeBody(r))));
            }
        }
    }
}

void TestS2BatchDecoder::eventTypes()
{
    S2BatchDecoder decoder;
    QCOMPARE(decoder.decode({"message", "[DONE]", {}}).type, S2Event::Type::Done);
    const S2Event other = decoder.decode({"message", "{\"type\":\"text-delta\"}", {}});
    QCOMPARE(other.type, S2Event::Type::Other);
    QCOMPARE(other.eventType, QByteArray("message"));
    const S2Event custom = decoder.decode({"heartbeat", "{}", {}});
    QCOMPARE(custom.type, S2Event::Type::Other);
    QCOMPARE(custom.eventType, QByteArray("heartbeat"));
    QVERIFY(custom.errors.isEmpty());
    // [DONE] under another event name is not the end marker.
    QCOMPARE(decoder.decode({"batch", "[DONE]", {}}).errors.size(), 1);
    QCOMPARE(decoder.lastSeq(), -1);
}

void TestS2BatchDecoder::serverErrorMessages_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QString>("message");
    QTest::newRow("plain text") << QByteArray("stream not found") << QStringLiteral("stream not found");
    QTest::newRow("JSON string") << QByteArray("\"rate limited\"") << QStringLiteral("rate limited");
    QTest::newRow("message member") << QByteArray("{\"message\":\"boom\",\"code\":500}") << QStringLiteral("boom");
    QTest::newRow("error member") << QByteArray("{\"error\":\"expired token\"}") << QStringLiteral("expired token");
    QTest::newRow("nested error") << QByteArray("{\"error\":{\"message\":\"deep\"}}") << QStringLiteral("deep");
    QTest::newRow("other JSON") << QByteArray("{\"code\":7}") << QStringLiteral("{\"code\":7}");
    QTest::newRow("empty") << QByteArray("") << QStringLiteral("the server sent an error event without a message");
}

void TestS2BatchDecoder::serverErrorMessages()
{
    QFETCH(QByteArray, data);
    QFETCH(QString, message);
    S2BatchDecoder decoder;
    const S2Event event = decoder.decode({"error", data, {}});
    QCOMPARE(event.type, S2Event::Type::Error);
    QCOMPARE(event.serverError, message);
}

void TestS2BatchDecoder::recordKinds()
{
    const S2Event event = decodeBatch(
        "{\"records\":[" + recordJson(3, "", "[[\"trigger-control\",\"upgrade-required\"]]") + "," +
        recordJson(4, "x", "[[\"\",\"fence\"],[\"extra\",\"1\"]]") + "," +
        recordJson(5, "", "[[\"trigger-control\",\"turn-complete\"],[\"session-in-event-id\",\"12\"]]") + "]}");
    QVERIFY(event.errors.isEmpty());
    QCOMPARE(event.records.size(), 3);
    QCOMPARE(event.records[0].kind, RecordKind::Control);
    QCOMPARE(event.records[0].subtype(), QByteArray("upgrade-required"));
    QVERIFY(!sessionInEventId(event.records[0]).has_value());
    QVERIFY(!publicAccessToken(event.records[0]).has_value());
    QCOMPARE(event.records[1].kind, RecordKind::Command);
    QCOMPARE(event.records[1].subtype(), QByteArray("fence"));
    QCOMPARE(event.records[1].body, QByteArray("x"));
    QCOMPARE(event.records[1].header("extra"), QByteArray("1"));
    QCOMPARE(event.records[2].kind, RecordKind::Control);
    QCOMPARE(sessionInEventId(event.records[2]), QByteArray("12"));
    QVERIFY(!event.tail.has_value());
}

void TestS2BatchDecoder::unknownMembersAreSkipped()
{
    const S2Event event = decodeBatch(
        "{\"x\":[[[{\"records\":5}]]],\"records\":[{\"seq_num\":1,\"extra\":{\"a\":[1,{\"body\":2}],\"b\":null},"
        "\"timestamp\":2,\"body\":\"b\",\"headers\":[],\"more\":true}],\"tail\":{\"seq_num\":2,\"timestamp\":3,"
        "\"other\":[1.5]},\"timestamp\":\"ignored in a batch\"}");
    QVERIFY2(event.errors.isEmpty(), qPrintable(messages(event.errors).join(u'\n')));
    QCOMPARE(event.records.size(), 1);
    QCOMPARE(event.records[0].seqNum, 1);
    QCOMPARE(event.records[0].timestamp, 2);
    QCOMPARE(event.records[0].body, QByteArray("b"));
    QCOMPARE(event.tail->seqNum, 2);
    QCOMPARE(event.tail->timestamp, 3);
}

void TestS2BatchDecoder::stringEscapes()
{
    const S2Event event = decodeBatch("{\"records\":[{\"seq_num\":9007199254740993,\"timestamp\":1,"
                                      "\"body\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\n\",\"headers\":"
                                      "[[\"n\\u0000\",\"v\"]]}]}");
    QVERIFY2(event.errors.isEmpty(), qPrintable(messages(event.errors).join(u'\n')));
    QCOMPARE(event.records[0].seqNum, Q_INT64_C(9007199254740993));
    QCOMPARE(QString::fromUtf8(event.records[0].body), QStringLiteral("café 😀 \"q\" \\ / \n"));
    QCOMPARE(event.records[0].headers[0].first, QByteArray("n\0", 2));
}

void TestS2BatchDecoder::malformedBatches_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QString>("error");
    QTest::addColumn<qint64>("seq");
    QTest::addColumn<int>("goodRecords");

    const QByteArray good = recordJson(1, outBody("{\"type\":\"start\"}", "p1"));
    QTest::newRow("truncated JSON inside a record")
        << "{\"records\":[" + good + ",{\"seq_num\":2,\"timestamp\":5,\"bo"
        << QStringLiteral("seq 2: malformed JSON: unterminated string at byte 138") << qint64(2) << 1;
    QTest::newRow("truncated JSON at the start") << QByteArray("{\"rec") << QStringLiteral("malformed JSON: unterminated string at byte 1")
                                                 << qint64(-1) << 0;
    QTest::newRow("empty data") << QByteArray("") << QStringLiteral("malformed JSON: unexpected end of input at byte 0")
                                << qint64(-1) << 0;
    QTest::newRow("trailing garbage") << "{\"records\":[" + good + "]} x" << QStringLiteral("malformed JSON: unexpected 'x' after the JSON value")
                                      << qint64(-1) << 1;
    QTest::newRow("invalid UTF-8 in a body")
        << QByteArray("{\"records\":[{\"seq_num\":5,\"timestamp\":1,\"body\":\"\xff\xfe\",\"headers\":[]}]}")
        << QStringLiteral("seq 5: malformed JSON: invalid UTF-8 in a string at byte 47") << qint64(5) << 0;
    QTest::newRow("invalid UTF-8 (overlong) in a header")
        << QByteArray("{\"records\":[{\"seq_num\":6,\"timestamp\":1,\"body\":\"\",\"headers\":[[\"\xc0\xaf\",\"v\"]]}]}")
        << QStringLiteral("UTF-8") << qint64(6) << 0;
    QTest::newRow("batch without records") << QByteArray("{\"tail\":{\"seq_num\":1,\"timestamp\":2}}")
                                           << QStringLiteral("batch without a records array") << qint64(-1) << 0;
    QTest::newRow("records is an object") << QByteArray("{\"records\":{\"seq_num\":1}}")
                                          << QStringLiteral("records is an object, not an array") << qint64(-1) << 0;
    QTest::newRow("data is an array") << QByteArray("[1,2]")
                                      << QStringLiteral("the event data is an array, not a JSON object") << qint64(-1) << 0;
    QTest::newRow("data is a string") << QByteArray("\"x\"")
                                      << QStringLiteral("the event data is a string, not a JSON object") << qint64(-1) << 0;
    QTest::newRow("missing seq_num")
        << "{\"records\":[{\"timestamp\":1,\"body\":\"\",\"headers\":[]}," + good + "]}"
        << QStringLiteral("record 0 of the batch: missing seq_num") << qint64(-1) << 1;
    QTest::newRow("non-string body")
        << "{\"records\":[" + good + ",{\"seq_num\":8,\"timestamp\":1,\"body\":{\"data\":{}},\"headers\":[]}]}"
        << QStringLiteral("seq 8: body is an object, not a string") << qint64(8) << 1;
    QTest::newRow("numeric body") << QByteArray("{\"records\":[{\"seq_num\":8,\"timestamp\":1,\"body\":42,\"headers\":[]}]}")
                                  << QStringLiteral("seq 8: body is a number, not a string") << qint64(8) << 0;
    QTest::newRow("null body") << QByteArray("{\"records\":[{\"seq_num\":8,\"timestamp\":1,\"body\":null,\"headers\":[]}]}")
                               << QStringLiteral("seq 8: body is null, not a string") << qint64(8) << 0;
    QTest::newRow("missing body") << QByteArray("{\"records\":[{\"seq_num\":8,\"timestamp\":1,\"headers\":[]}]}")
                                  << QStringLiteral("seq 8: missing body") << qint64(8) << 0;
    QTest::newRow("negative seq") << "{\"records\":[{\"seq_num\":-3,\"timestamp\":1,\"body\":\"\",\"headers\":[]}," + good + "]}"
                                  << QStringLiteral("record 0 of the batch: negative seq_num -3") << qint64(-1) << 1;
    QTest::newRow("string seq") << QByteArray("{\"records\":[{\"seq_num\":\"4\",\"timestamp\":1,\"body\":\"\"}]}")
                                << QStringLiteral("record 0 of the batch: seq_num is a string, not an integer")
                                << qint64(-1) << 0;
    QTest::newRow("fractional seq") << QByteArray("{\"records\":[{\"seq_num\":4.5,\"timestamp\":1,\"body\":\"\"}]}")
                                    << QStringLiteral("seq_num is a fractional number, not an integer") << qint64(-1) << 0;
    QTest::newRow("seq out of range")
        << QByteArray("{\"records\":[{\"seq_num\":18446744073709551615,\"timestamp\":1,\"body\":\"\"}]}")
        << QStringLiteral("seq_num is a number out of range, not an integer") << qint64(-1) << 0;
    QTest::newRow("missing timestamp") << QByteArray("{\"records\":[{\"seq_num\":4,\"body\":\"\"}]}")
                                       << QStringLiteral("seq 4: missing timestamp") << qint64(4) << 0;
    QTest::newRow("record is a number") << "{\"records\":[7," + good + "]}"
                                        << QStringLiteral("record 0 of the batch: is a number, not an object")
                                        << qint64(-1) << 1;
    QTest::newRow("header with one string")
        << QByteArray("{\"records\":[{\"seq_num\":4,\"timestamp\":1,\"body\":\"\",\"headers\":[[\"a\"]]}]}")
        << QStringLiteral("seq 4: a header has 1 strings, not [name, value]") << qint64(4) << 0;
    QTest::newRow("header value not a string")
        << QByteArray("{\"records\":[{\"seq_num\":4,\"timestamp\":1,\"body\":\"\",\"headers\":[[\"a\",1]]}]}")
        << QStringLiteral("seq 4: headers must be [name, value] string pairs, found a number") << qint64(4) << 0;
    QTest::newRow("headers not an array")
        << QByteArray("{\"records\":[{\"seq_num\":4,\"timestamp\":1,\"body\":\"\",\"headers\":\"x\"}]}")
        << QStringLiteral("seq 4: headers must be [name, value] string pairs, found a string") << qint64(4) << 0;
    QTest::newRow("bad tail") << "{\"records\":[" + good + "],\"tail\":{\"seq_num\":\"x\",\"timestamp\":1}}"
                              << QStringLiteral("tail: seq_num is a string, not an integer") << qint64(-1) << 1;
    QTest::newRow("incomplete tail") << "{\"records\":[" + good + "],\"tail\":{\"seq_num\":3}}"
                                     << QStringLiteral("tail: needs seq_num and timestamp") << qint64(-1) << 1;
    QTest::newRow("deep nesting") << QByteArray(100000, '[')
                                  << QStringLiteral("malformed JSON: nested deeper than 512 levels") << qint64(-1) << 0;
    QTest::newRow("deep nesting inside a record")
        << "{\"records\":[" + good + ",{\"seq_num\":9,\"x\":" + QByteArray(100000, '[') + "}]}"
        << QStringLiteral("seq 9: malformed JSON: nested deeper than 512 levels") << qint64(9) << 1;
}

void TestS2BatchDecoder::malformedBatches()
{
    QFETCH(QByteArray, data);
    QFETCH(QString, error);
    QFETCH(qint64, seq);
    QFETCH(int, goodRecords);

    const S2Event event = decodeBatch(data);
    QCOMPARE(event.type, S2Event::Type::Batch);
    QVERIFY2(!event.errors.isEmpty(), "no error reported");
    QVERIFY2(event.errors.first().message.contains(error), qPrintable(event.errors.first().message));
    QCOMPARE(event.errors.first().seq, seq);
    QCOMPARE(event.records.size(), goodRecords);
    for (const StreamRecord &r : event.records)
        QCOMPARE(r.seqNum, 1);
}

void TestS2BatchDecoder::badRecordKeepsTheOthers()
{
    const S2Event event = decodeBatch(
        "{\"records\":[" + recordJson(10, "a") + ",{\"seq_num\":11,\"timestamp\":1,\"body\":[1]}," +
        recordJson(12, "c") + ",{\"timestamp\":1,\"body\":\"\"}," + recordJson(14, "e") +
        "],\"tail\":{\"seq_num\":15,\"timestamp\":99}}");
    QCOMPARE(event.records.size(), 3);
    QCOMPARE(event.records[0].seqNum, 10);
    QCOMPARE(event.records[1].seqNum, 12);
    QCOMPARE(event.records[2].seqNum, 14);
    QCOMPARE(event.records[2].body, QByteArray("e"));
    QCOMPARE(messages(event.errors), (QStringList{"seq 11: body is an array, not a string",
                                                  "record 3 of the batch: missing seq_num"}));
    QCOMPARE(event.errors[0].seq, 11);
    QCOMPARE(event.tail->seqNum, 15);
}

void TestS2BatchDecoder::malformedStreamGoesOn()
{
    // A capture with every kind of damage between good events: each bad event
    // names its problem and the good ones all come through.
    QByteArray stream;
    auto batch = [&](const QByteArray &data) { stream += "event: batch\ndata: " + data + "\n\n"; };
    batch("{\"records\":[" + recordJson(0, outBody("{\"type\":\"start\"}", "p0")) + "]}");
    batch("{\"records\":[" + recordJson(1, "x") + ",{\"seq_num\":2,\"timest");
    batch("{\"records\":[" + recordJson(3, outBody("{\"type\":\"text-start\",\"id\":\"t\"}", "p3")) + "]}");
    stream += "event: batch\ndata: " + QByteArray(20 * 1024 * 1024, 'z') + "\n\n"; // 20 MiB line
    batch("{\"records\":[{\"seq_num\":4,\"timestamp\":1,\"body\":\"\xff\",\"headers\":[]}]}");
    batch("{\"tail\":{\"seq_num\":5,\"timestamp\":1}}");
    batch("{\"records\":[{\"timestamp\":1,\"body\":\"\",\"headers\":[]}]}");
    batch("{\"records\":[{\"seq_num\":6,\"timestamp\":1,\"body\":true,\"headers\":[]}]}");
    batch("{\"records\":[{\"seq_num\":-7,\"timestamp\":1,\"body\":\"\",\"headers\":[]}]}");
    stream += "event: error\ndata: {\"message\":\"stream is gone\"}\n\n";
    batch("{\"records\":[" + recordJson(8, outBody("{\"type\":\"finish\"}", "p8")) + "]}");
    stream += "data: [DONE]\n\n";

    SseParser parser;
    S2BatchDecoder decoder;
    QList<SseEvent> events;
    QStringList errors;
    QList<qint64> seqs;
    QString serverError;
    bool done = false;
    for (qsizetype at = 0; at < stream.size(); at += 64 * 1024) {
        parser.feed(QByteArrayView(stream).sliced(at, std::min<qsizetype>(64 * 1024, stream.size() - at)), events);
        errors += messages(parser.takeErrors());
        for (const SseEvent &sse : std::as_const(events)) {
            const S2Event event = decoder.decode(sse);
            errors += messages(event.errors);
            for (const StreamRecord &r : event.records)
                seqs.append(r.seqNum);
            if (event.type == S2Event::Type::Error)
                serverError = event.serverError;
            done = done || event.type == S2Event::Type::Done;
        }
        events.clear();
    }
    QVERIFY(!parser.finish().has_value());
    QCOMPARE(seqs, (QList<qint64>{0, 1, 3, 8}));
    QCOMPARE(serverError, QStringLiteral("stream is gone"));
    QVERIFY(done);
    QCOMPARE(errors.size(), 7);
    const QStringList expected{
        QStringLiteral("seq 2: malformed JSON"),          QStringLiteral("larger than 16777216 bytes"),
        QStringLiteral("seq 4: malformed JSON"),          QStringLiteral("batch without a records array"),
        QStringLiteral("missing seq_num"),                QStringLiteral("seq 6: body is a boolean, not a string"),
        QStringLiteral("negative seq_num -7"),
    };
    for (int i = 0; i < expected.size(); ++i)
        QVERIFY2(errors[i].contains(expected[i]), qPrintable(errors[i] + QStringLiteral(" / ") + expected[i]));
    QVERIFY(errors[2].contains(QStringLiteral("UTF-8")));
    QCOMPARE(decoder.lastSeq(), 8);
    QCOMPARE(decoder.recordCount(), 4);
}

void TestS2BatchDecoder::pings()
{
    S2BatchDecoder decoder;
    const S2Event ping = decoder.decode({"ping", "{\"timestamp\":1712150405000,\"tail\":{\"seq_num\":1,"
                                                 "\"timestamp\":1712150400500},\"records\":[1]}",
                                         {}});
    QCOMPARE(ping.type, S2Event::Type::Ping);
    QVERIFY(ping.errors.isEmpty());
    QCOMPARE(ping.pingTimestamp, 1712150405000);
    QCOMPARE(ping.tail->seqNum, 1);
    QCOMPARE(ping.tail->timestamp, 1712150400500);
    QVERIFY(ping.records.isEmpty());

    const S2Event noTimestamp = decoder.decode({"ping", "{\"tail\":{\"seq_num\":1,\"timestamp\":2}}", {}});
    QCOMPARE(messages(noTimestamp.errors), QStringList{QStringLiteral("ping without a timestamp")});
    const S2Event badTimestamp = decoder.decode({"ping", "{\"timestamp\":\"soon\"}", {}});
    QCOMPARE(messages(badTimestamp.errors),
             QStringList{QStringLiteral("the ping timestamp is a string, not an integer")});
    QCOMPARE(decoder.decode({"ping", "{\"timestamp\":", {}}).errors.size(), 1);
}

void TestS2BatchDecoder::tail()
{
    const S2Event empty = decodeBatch("{\"records\":[],\"tail\":{\"seq_num\":0,\"timestamp\":0}}");
    QVERIFY(empty.errors.isEmpty());
    QVERIFY(empty.records.isEmpty());
    QCOMPARE(empty.tail->seqNum, 0);
    const S2Event negative = decodeBatch("{\"records\":[],\"tail\":{\"seq_num\":-1,\"timestamp\":0}}");
    QCOMPARE(messages(negative.errors), QStringList{QStringLiteral("tail: negative seq_num -1")});
    QVERIFY(!negative.tail.has_value());
    const S2Event array = decodeBatch("{\"records\":[],\"tail\":[1,2]}");
    QCOMPARE(messages(array.errors), QStringList{QStringLiteral("tail: is an array, not an object")});
}

void TestS2BatchDecoder::decodeBodyShapes()
{
    // .out: data is the UIMessageChunk object.
    StreamRecord out;
    out.seqNum = 3;
    out.body = outBody("{\"type\":\"text-delta\",\"id\":\"t1\",\"delta\":\"hi\"}", "abc");
    const auto outBodyDecoded = decodeBody(out);
    QVERIFY(outBodyDecoded.ok());
    QCOMPARE(outBodyDecoded->chunkType, QByteArray("text-delta"));
    QCOMPARE(outBodyDecoded->partId, QByteArray("abc"));
    QCOMPARE(outBodyDecoded->channel(), Channel::Out);
    QCOMPARE(outBodyDecoded->data["delta"].get<std::string>(), std::string("hi"));

    // .in: data is a string holding the ChatInputChunk JSON.
    const json inChunk = {{"kind", "message"},
                          {"payload",
                           {{"chatId", "c1"},
                            {"trigger", "submit-message"},
                            {"message", {{"id", "u1"}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", "Hi"}}}}}}}}};
    StreamRecord in;
    in.seqNum = 0;
    in.body = QByteArray::fromStdString(json({{"data", inChunk.dump()}, {"id", "x1"}}).dump());
    const auto inDecoded = decodeBody(in);
    QVERIFY2(inDecoded.ok(), qPrintable(errorText(inDecoded)));
    QVERIFY(inDecoded->dataWasString);
    QCOMPARE(inDecoded->channel(), Channel::In);
    QCOMPARE(inDecoded->chunkType, QByteArray("message"));
    QCOMPARE(inDecoded->partId, QByteArray("x1"));
    QVERIFY(inDecoded->data == inChunk);

    // No id: allowed, the part id is empty.
    const auto noId = decodeBody(QByteArrayView("{\"data\":{\"type\":\"finish\"}}"), 4);
    QVERIFY(noId.ok());
    QVERIFY(noId->partId.isEmpty());
}

void TestS2BatchDecoder::decodeBodyErrors_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("error");
    QTest::newRow("empty") << QByteArray("") << QStringLiteral("seq 7: empty body");
    QTest::newRow("not JSON") << QByteArray("{\"data\":") << QStringLiteral("seq 7: body is not JSON: unexpected end of input at byte 8");
    QTest::newRow("invalid UTF-8") << QByteArray("{\"data\":{\"type\":\"a\xff\"}}")
                                   << QStringLiteral("seq 7: body is not JSON: invalid UTF-8 in a string at byte 18");
    QTest::newRow("array") << QByteArray("[1]") << QStringLiteral("seq 7: body is not a JSON object");
    QTest::newRow("no data") << QByteArray("{\"id\":\"p\"}") << QStringLiteral("seq 7: body has no data");
    QTest::newRow("data number") << QByteArray("{\"data\":5}")
                                 << QStringLiteral("seq 7: body data is neither an object nor a string");
    QTest::newRow("id number") << QByteArray("{\"data\":{\"type\":\"x\"},\"id\":5}")
                               << QStringLiteral("seq 7: body id is not a string");
    QTest::newRow("chunk without type") << QByteArray("{\"data\":{\"delta\":\"x\"}}")
                                        << QStringLiteral("seq 7: the chunk has no string \"type\"");
    QTest::newRow(".in string not JSON") << QByteArray("{\"data\":\"hello there\"}")
                                         << QStringLiteral("seq 7: the .in data string is not JSON: unexpected 'h' at byte 0");
    QTest::newRow(".in string not an object") << QByteArray("{\"data\":\"[1,2]\"}")
                                              << QStringLiteral("seq 7: the chunk is not a JSON object");
    QTest::newRow("repeated id, last not a string") << QByteArray("{\"id\":\"a\",\"data\":{\"type\":\"x\"},\"id\":1}")
                                                    << QStringLiteral("seq 7: body id is not a string");
    QTest::newRow("repeated data, last a number") << QByteArray("{\"data\":{\"type\":\"x\"},\"data\":3}")
                                                  << QStringLiteral("seq 7: body data is neither an object nor a string");
    QTest::newRow("type not a string") << QByteArray("{\"data\":{\"type\":[\"x\"]}}")
                                       << QStringLiteral("seq 7: the chunk has no string \"type\"");
    QTest::newRow("syntax error after the type") << QByteArray("{\"data\":{\"type\":\"x\"},\"id\":\"p\" x}")
                                                 << QStringLiteral("seq 7: body is not JSON: unexpected 'x'");
    QTest::newRow(".in string with trailing data") << QByteArray("{\"data\":\"{\\\"kind\\\":\\\"stop\\\"} 1\"}")
                                                   << QStringLiteral("seq 7: the .in data string is not JSON: unexpected '1'");
    QTest::newRow(".in without kind") << QByteArray("{\"data\":\"{\\\"payload\\\":{}}\"}")
                                      << QStringLiteral("seq 7: the chunk has no string \"kind\"");
}

void TestS2BatchDecoder::decodeBodyErrors()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, error);
    StreamRecord record;
    record.seqNum = 7;
    record.body = body;
    const auto decoded = decodeBody(record);
    QVERIFY(!decoded.ok());
    QVERIFY2(decoded.error().message.startsWith(error), qPrintable(decoded.error().message));
    QCOMPARE(decoded.error().seq, 7);
    // The light decoders find the same problem.
    const auto info = decodeBodyInfo(record);
    QVERIFY(!info.ok());
    QCOMPARE(info.error().message, decoded.error().message);
    QCOMPARE(decodeChunk(record).error().message, decoded.error().message);

    record.kind = RecordKind::Control;
    record.headers = {{"trigger-control", "turn-complete"}};
    QCOMPARE(decodeBody(record).error().message, QStringLiteral("seq 7: a control record has no chunk body"));
    QCOMPARE(decodeBodyInfo(record).error().message, QStringLiteral("seq 7: a control record has no chunk body"));
    QCOMPARE(decodeChunk(record).error().message, QStringLiteral("seq 7: a control record has no chunk body"));
}

void TestS2BatchDecoder::compactAndGeneralLayoutsAgree()
{
    // S2's own layout takes the literal-matching path; the same batches with
    // whitespace, or members in another order, take the general reader. Both
    // must give the same records, tail and errors.
    const auto relaxed = [](QByteArray json) {
        for (const char *key : {"records", "seq_num", "timestamp", "body", "headers", "tail"})
            json.replace("\"" + QByteArray(key) + "\":", " \"" + QByteArray(key) + "\" :\n");
        return json;
    };
    const auto reordered = [](QByteArray json) {
        return json.replace("\"headers\":[]}", "\"headers\":[],\"x\":1}").replace("{\"records\":", "{\"y\":null,\"records\":");
    };
    int compared = 0;
    for (const QString &name : sseFixtures()) {
        for (const SseEvent &event : parseWhole(readFixture(name))) {
            if (event.type != "batch")
                continue;
            S2Event compact;
            S2BatchDecoder::decodeBatchJson(event.data, compact);
            for (const QByteArray &other : {relaxed(event.data), reordered(event.data)}) {
                QVERIFY(other != event.data);
                S2Event general;
                S2BatchDecoder::decodeBatchJson(other, general);
                QCOMPARE(messages(general.errors), messages(compact.errors));
                QCOMPARE(general.records.size(), compact.records.size());
                for (qsizetype i = 0; i < compact.records.size(); ++i) {
                    QCOMPARE(general.records[i].seqNum, compact.records[i].seqNum);
                    QCOMPARE(general.records[i].timestamp, compact.records[i].timestamp);
                    QCOMPARE(general.records[i].kind, compact.records[i].kind);
                    QCOMPARE(general.records[i].headers, compact.records[i].headers);
                    QCOMPARE(general.records[i].body, compact.records[i].body);
                }
                QCOMPARE(general.tail.has_value(), compact.tail.has_value());
                if (compact.tail) {
                    QCOMPARE(general.tail->seqNum, compact.tail->seqNum);
                    QCOMPARE(general.tail->timestamp, compact.tail->timestamp);
                }
                ++compared;
            }
        }
    }
    QVERIFY(compared > 10);
    // A compact batch broken half way adds nothing from its compact read: the
    // general reader reports it once, keeping the records before the break.
    S2Event broken;
    S2BatchDecoder::decodeBatchJson("{\"records\":[" + recordJson(1, "a") + "," + recordJson(2, "b") + ",{\"seq_num\":3,\"timestamp\":1,\"body\":\"\\q\",\"headers\":[]}]}", broken);
    QCOMPARE(broken.records.size(), 2);
    QCOMPARE(broken.errors.size(), 1);
    QVERIFY2(broken.errors.first().message.contains(QStringLiteral("invalid escape")), qPrintable(broken.errors.first().message));
}

void TestS2BatchDecoder::decodeIntoReusesTheEvent()
{
    S2BatchDecoder decoder;
    S2Event event;
    const QByteArray batch = "{\"records\":[" + recordJson(1, outBody("{\"type\":\"start\"}", "p1")) + "," +
                             recordJson(2, outBody("{\"type\":\"finish\"}", "p2")) + "],\"tail\":{\"seq_num\":3,\"timestamp\":9}}";
    decoder.decode(SseEventView{"batch", batch, "1"}, event);
    QCOMPARE(event.type, S2Event::Type::Batch);
    QCOMPARE(event.eventType, QByteArray("batch"));
    QCOMPARE(event.records.size(), 2);
    QCOMPARE(event.tail->seqNum, 3);
    // The next event replaces everything the last one left.
    decoder.decode(SseEventView{"ping", "{\"timestamp\":5}", "1"}, event);
    QCOMPARE(event.type, S2Event::Type::Ping);
    QCOMPARE(event.eventType, QByteArray("ping"));
    QVERIFY(event.records.isEmpty());
    QVERIFY(!event.tail.has_value());
    QCOMPARE(event.pingTimestamp, 5);
    decoder.decode(SseEventView{"custom", "{}", {}}, event);
    QCOMPARE(event.type, S2Event::Type::Other);
    QCOMPARE(event.eventType, QByteArray("custom"));
    QCOMPARE(event.pingTimestamp, 0);
    decoder.decode(SseEventView{"batch", "{\"records\":5}", {}}, event);
    QCOMPARE(messages(event.errors), QStringList{QStringLiteral("records is a number, not an array")});
    decoder.decode(SseEventView{"error", "\"gone\"", {}}, event);
    QCOMPARE(event.serverError, QStringLiteral("gone"));
    QVERIFY(event.errors.isEmpty());
    decoder.decode(SseEventView{"message", "[DONE]", {}}, event);
    QCOMPARE(event.type, S2Event::Type::Done);
    QVERIFY(event.serverError.isEmpty());
    QCOMPARE(decoder.lastSeq(), 2);
    QCOMPARE(decoder.recordCount(), 2);
}

void TestS2BatchDecoder::decodedChunkMembers()
{
    StreamRecord record;
    record.seqNum = 4;
    // Escapes in values and in a name; a repeated member; nested values.
    record.body = outBody("{\"type\":\"tool-input-available\",\"toolCallId\":\"c\\u00e9\",\"input\":{\"a\":[1,2.5,null]},"
                          "\"dyn\\u0061mic\":true,\"toolName\":\"old\",\"toolName\":\"search\"}",
                          "p4");
    const Result<DecodedChunk> chunk = decodeChunk(record);
    QVERIFY2(chunk.ok(), qPrintable(errorText(chunk)));
    QCOMPARE(chunk->chunkType, QByteArray("tool-input-available"));
    QCOMPARE(chunk->partId, QByteArray("p4"));
    QCOMPARE(chunk->channel(), Channel::Out);
    QCOMPARE(chunk->memberCount(), 6);
    QCOMPARE(chunk->string("toolCallId"), QStringLiteral("cé"));
    QCOMPARE(chunk->string("toolName"), QStringLiteral("search"));
    QVERIFY(!chunk->string("input").has_value());
    QVERIFY(!chunk->string("missing").has_value());
    QCOMPARE(chunk->memberType("input"), JsonReader::Type::Object);
    QCOMPARE(chunk->memberType("dynamic"), JsonReader::Type::Bool);
    QCOMPARE(chunk->memberType("missing"), JsonReader::Type::Invalid);
    QVERIFY(chunk->contains("dynamic"));
    QVERIFY(chunk->value("input") == json::parse(R"({"a":[1,2.5,null]})"));
    QVERIFY(chunk->value("missing").is_null());
    QVERIFY(chunk->jsonText().startsWith("{\"type\""));
    QVERIFY(chunk->jsonText().endsWith("\"search\"}"));
    const Result<DecodedBody> body = decodeBody(record);
    QVERIFY(body.ok());
    QVERIFY(chunk->toJson() == body->data);
    QCOMPARE(body->data["toolName"].get<std::string>(), std::string("search"));
    // Whitespace around the chunk takes the general reader: the same chunk.
    StreamRecord spaced = record;
    spaced.body = " { \"id\" : \"p4\" , \"data\" : " + record.body.mid(8, record.body.indexOf(",\"id\"") - 8) + " } ";
    const Result<DecodedChunk> general = decodeChunk(spaced);
    QVERIFY2(general.ok(), qPrintable(errorText(general)));
    QVERIFY(general->toJson() == body->data);
    QCOMPARE(general->partId, QByteArray("p4"));
    QCOMPARE(general->string("toolCallId"), QStringLiteral("cé"));
    QCOMPARE(general->memberCount(), 6);
    // A chunk outlives its record.
    Result<DecodedChunk> kept = decodeChunk(StreamRecord(record));
    record.body.fill('x');
    QCOMPARE(kept->string("toolName"), QStringLiteral("search"));
}

void TestS2BatchDecoder::decodedChunkOfAnInBody()
{
    const json inChunk = {{"kind", "message"}, {"payload", {{"chatId", "c1"}, {"trigger", "submit-message"}}}};
    StreamRecord in;
    in.seqNum = 0;
    in.body = QByteArray::fromStdString(json({{"data", inChunk.dump()}, {"id", "x1"}}).dump());
    const Result<DecodedChunk> chunk = decodeChunk(in);
    QVERIFY2(chunk.ok(), qPrintable(errorText(chunk)));
    QVERIFY(chunk->dataWasString);
    QCOMPARE(chunk->channel(), Channel::In);
    QCOMPARE(chunk->chunkType, QByteArray("message"));
    QCOMPARE(chunk->partId, QByteArray("x1"));
    QCOMPARE(chunk->memberCount(), 2);
    QVERIFY(chunk->toJson() == inChunk);
    QVERIFY(chunk->value("payload") == inChunk["payload"]);
}

QTEST_GUILESS_MAIN(TestS2BatchDecoder)
#include "tst_s2batchdecoder.moc"
