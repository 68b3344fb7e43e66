// JsonReader must accept exactly what nlohmann::json accepts and read the same
// values: checked on hand-picked cases and on many mutations of real records.

#include "net/chunkbody.h"
#include "net/jsonreader.h"
#include "net/s2batchdecoder.h"

#include "tests/net/netfixtures.h"

#include <QRandomGenerator>
#include <QTest>

#include <charconv>
#include <iterator>

using namespace sessionscope;
using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

struct Outcome
{
    bool ok = false;
    std::string dump; // the value, when ok
    QString error;
};

Outcome readWithReader(const QByteArray &text)
{
    JsonReader reader(text);
    json value;
    Outcome out;
    out.ok = reader.readValue(value) && reader.expectEnd();
    if (out.ok)
        out.dump = value.dump();
    out.error = reader.errorMessage();
    return out;
}

Outcome readWithNlohmann(const QByteArray &text)
{
    Outcome out;
    const json value = json::parse(text.constData(), text.constData() + text.size(), nullptr, false);
    out.ok = !value.is_discarded();
    if (out.ok)
        out.dump = value.dump();
    return out;
}

bool skipAccepts(const QByteArray &text)
{
    JsonReader reader(text);
    return reader.skipValue() && reader.expectEnd();
}

// Compares the reader with nlohmann on one input; returns a description of the
// first difference, empty when they agree.
QString difference(const QByteArray &text)
{
    const Outcome mine = readWithReader(text);
    const Outcome reference = readWithNlohmann(text);
    if (mine.ok != reference.ok) {
        return QStringLiteral("reader %1, nlohmann %2 (%3) on %4")
            .arg(mine.ok ? "accepts" : "rejects", reference.ok ? "accepts" : "rejects", mine.error,
                 QString::fromLatin1(text.toPercentEncoding()));
    }
    if (mine.ok && mine.dump != reference.dump) {
        return QStringLiteral("values differ: %1 vs %2")
            .arg(QString::fromStdString(mine.dump), QString::fromStdString(reference.dump));
    }
    if (skipAccepts(text) != reference.ok)
        return QStringLiteral("skipValue disagrees on %1").arg(QString::fromLatin1(text.toPercentEncoding()));
    return {};
}

QByteArray mutate(QByteArray text, QRandomGenerator &random)
{
    static const char interesting[] = "\"\\{}[],:0-+e.E u1\x7f\xff\xc3\x80\xed\xa0\xf4\x90 ntf\t\n/";
    const int edits = 1 + random.bounded(3);
    for (int i = 0; i < edits && !text.isEmpty(); ++i) {
        const qsizetype at = random.bounded(text.size());
        const char byte = interesting[random.bounded(int(sizeof(interesting) - 1))];
        switch (random.bounded(5)) {
        case 0:
            text.remove(at, 1);
            break;
        case 1:
            text.insert(at, byte);
            break;
        case 2:
            text[at] = byte;
            break;
        case 3:
            text.truncate(at);
            break;
        default:
            text.insert(at, text.mid(at, random.bounded(8)));
            break;
        }
    }
    return text;
}

// The JSON texts inside the fixtures: every event's data and every record body.
QList<QByteArray> fixtureTexts()
{
    QList<QByteArray> out;
    for (const QString &name : sseFixtures()) {
        S2BatchDecoder decoder;
        for (const SseEvent &event : parseWhole(readFixture(name))) {
            out.append(event.data);
            for (const StreamRecord &r : decoder.decode(event).records) {
                if (r.kind == RecordKind::Data)
                    out.append(r.body);
            }
        }
    }
    return out;
}

// The records of a batch read the slow way, from an nlohmann tree, by the rules
// of protocol.md; nullopt when the text is not a batch object with a records array.
struct TreeRecord
{
    qint64 seq = -1;
    qint64 timestamp = 0;
    QByteArray body;
    QList<StreamHeader> headers;
};

std::optional<qint64> treeInteger(const json &object, const char *key)
{
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer())
        return std::nullopt;
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<qint64>::max()))
        return std::nullopt;
    return it->get<qint64>();
}

std::optional<std::pair<QList<TreeRecord>, int>> readBatchTree(const QByteArray &text)
{
    const json batch = json::parse(text.constData(), text.constData() + text.size(), nullptr, false);
    if (batch.is_discarded() || !batch.is_object() || !batch.contains("records") || !batch["records"].is_array())
        return std::nullopt;
    QList<TreeRecord> good;
    int bad = 0;
    for (const json &element : batch["records"]) {
        TreeRecord r;
        const auto seq = element.is_object() ? treeInteger(element, "seq_num") : std::nullopt;
        const auto timestamp = element.is_object() ? treeInteger(element, "timestamp") : std::nullopt;
        bool ok = seq && *seq >= 0 && timestamp && element.contains("body") && element["body"].is_string();
        if (ok && element.contains("headers")) {
            ok = element["headers"].is_array();
            for (const json &h : ok ? element["headers"] : json::array()) {
                if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string()) {
                    ok = false;
                    break;
                }
                r.headers.append({QByteArray::fromStdString(h[0].get<std::string>()),
                                  QByteArray::fromStdString(h[1].get<std::string>())});
            }
        }
        if (!ok) {
            ++bad;
            continue;
        }
        r.seq = *seq;
        r.timestamp = *timestamp;
        r.body = QByteArray::fromStdString(element["body"].get<std::string>());
        good.append(r);
    }
    return std::pair{good, bad};
}

} // namespace

class TestJsonReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void agreesWithNlohmann_data();
    void agreesWithNlohmann();
    void agreesOnMutatedRecords();
    void decodersAgreeOnMutatedBodies();
    void batchDecoderAgreesWithTreeReading();
    void pullApi();
    void compactReading();
    void integers();
    void denseEscapes();
    void errorsSayWhere();
    void depthLimit();
};

void TestJsonReader::agreesWithNlohmann_data()
{
    QTest::addColumn<QByteArray>("text");
    const char *const cases[] = {
        // valid
        "{}", "[]", "\"\"", "0", "-0", "1", "-1", "0.5", "-0.5e-3", "1E2", "1e+2", "123456789012345678",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "-9223372036854775808", "-9223372036854775809", "1e-400", "2.2250738585072014e-308", "1.7976931348623157e308",
        "true", "false", "null", " \t\r\n[ 1 , 2 ]\n ", "{\"a\":{\"b\":[{},[],\"\",0]}}", "{\"a\":1,\"a\":2}",
        "\"\\u0000\\b\\f\\n\\r\\t\\/\\\\\\\"\"", "\"\\u00e9\\u20AC\\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "\"\xed\x9f\xbf\"", "\"\xef\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"", "{\"\\u006b\":1}", "[\"\x7f\"]",
        // invalid
        "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "{,}", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}", "{1:1}", "[1 2]",
        "01", "-", "+1", "1.", ".5", "1e", "1e+", "--1", "0x10", "NaN", "Infinity", "1e400", "-1e400", "tru", "nul",
        "True", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"\t\"", "\"\n\"", "\"\x01\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\x80\"", "[1]x", "{} {}", "[1]]", "\"a\"\"",
        "{\"a\":1 \"b\":2}", "[\"a\" \"b\"]", "{\"a\\\"\":1}", "[-]", "[1.e3]", "{\"\xff\":1}",
    };
    int i = 0;
    for (const char *text : cases)
        QTest::newRow(qPrintable(QString::number(i++) + QStringLiteral(": ") + QString::fromLatin1(text).left(30)))
            << QByteArray(text);
    QTest::newRow("embedded NUL") << QByteArray("[1,\0 2]", 7);
    QTest::newRow("NUL in string") << QByteArray("\"a\0b\"", 5);
}

void TestJsonReader::agreesWithNlohmann()
{
    QFETCH(QByteArray, text);
    const QString diff = difference(text);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
}

void TestJsonReader::agreesOnMutatedRecords()
{
    const QList<QByteArray> texts = fixtureTexts();
    QVERIFY(!texts.isEmpty());
    QRandomGenerator random(20261121);
    int accepted = 0;
    int rejected = 0;
    for (int round = 0; round < 10000; ++round) {
        const QByteArray text = mutate(texts[random.bounded(int(texts.size()))], random);
        const QString diff = difference(text);
        if (!diff.isEmpty())
            QFAIL(qPrintable(QStringLiteral("round %1: %2").arg(round).arg(diff)));
        (readWithNlohmann(text).ok ? accepted : rejected)++;
        // Whatever the damage, batch decoding reports it instead of failing.
        S2Event event;
        S2BatchDecoder::decodeBatchJson(text, event);
        if (!readWithNlohmann(text).ok) {
            QVERIFY(!event.errors.isEmpty());
            QVERIFY2(event.errors.last().message.contains(QStringLiteral("malformed JSON")),
                     qPrintable(event.errors.last().message));
        }
    }
    // Both outcomes were exercised in quantity.
    QVERIFY2(accepted > 1000 && rejected > 1000, qPrintable(QStringLiteral("%1/%2").arg(accepted).arg(rejected)));
}

void TestJsonReader::decodersAgreeOnMutatedBodies()
{
    QList<QByteArray> bodies;
    for (const QByteArray &text : fixtureTexts()) {
        if (text.startsWith("{\"data\""))
            bodies.append(text);
    }
    // An .in body too: its data is a string of JSON.
    bodies.append(QByteArray::fromStdString(
        json({{"data", R"({"kind":"message","payload":{"chatId":"c","trigger":"submit-message"}})"}, {"id", "x"}}).dump()));
    QRandomGenerator random(7);
    for (int round = 0; round < 10000; ++round) {
        const QByteArray body = mutate(bodies[random.bounded(int(bodies.size()))], random);
        const auto full = decodeBody(body, round);
        const auto info = decodeBodyInfo(body, round);
        const auto chunk = decodeChunk(body, round);
        if (full.ok() != info.ok() || (!full.ok() && full.error().message != info.error().message) ||
            full.ok() != chunk.ok() || (!full.ok() && full.error().message != chunk.error().message)) {
            QFAIL(qPrintable(QStringLiteral("round %1 on %2: \"%3\" vs \"%4\" vs \"%5\"")
                                 .arg(round)
                                 .arg(QString::fromLatin1(body.toPercentEncoding()), errorText(full), errorText(info),
                                      errorText(chunk))));
        }
        if (full.ok()) {
            QCOMPARE(info->chunkType, full->chunkType);
            QCOMPARE(info->partId, full->partId);
            QCOMPARE(info->dataWasString, full->dataWasString);
            QCOMPARE(chunk->chunkType, full->chunkType);
            QCOMPARE(chunk->partId, full->partId);
            QVERIFY(chunk->toJson() == full->data);
            // The same decoded from a tree: what nlohmann makes of the body.
            const json tree = json::parse(body.constData(), body.constData() + body.size());
            const json &data = tree["data"];
            QVERIFY(full->data == (data.is_string() ? json::parse(data.get<std::string>()) : data));
        }
    }
}

void TestJsonReader::batchDecoderAgreesWithTreeReading()
{
    QList<QByteArray> batches;
    for (const QByteArray &text : fixtureTexts()) {
        if (text.startsWith("{\"records\""))
            batches.append(text);
    }
    QVERIFY(!batches.isEmpty());
    QRandomGenerator random(99);
    int compared = 0;
    for (int round = 0; round < 10000; ++round) {
        const QByteArray text = mutate(batches[random.bounded(int(batches.size()))], random);
        const auto tree = readBatchTree(text);
        if (!tree)
            continue;
        ++compared;
        S2Event event;
        S2BatchDecoder::decodeBatchJson(text, event);
        const auto &[good, bad] = *tree;
        const QString where = QStringLiteral("round %1 on %2").arg(round).arg(QString::fromLatin1(text.toPercentEncoding()));
        QVERIFY2(event.records.size() == good.size(), qPrintable(where));
        for (qsizetype i = 0; i < good.size(); ++i) {
            QVERIFY2(event.records[i].seqNum == good[i].seq, qPrintable(where));
            QVERIFY2(event.records[i].timestamp == good[i].timestamp, qPrintable(where));
            QVERIFY2(event.records[i].body == good[i].body, qPrintable(where));
            QVERIFY2(event.records[i].headers == good[i].headers, qPrintable(where));
        }
        int recordErrors = 0;
        for (const Error &e : event.errors) {
            if (e.message.startsWith(QStringLiteral("seq ")) || e.message.startsWith(QStringLiteral("record ")))
                ++recordErrors;
        }
        QVERIFY2(recordErrors == bad, qPrintable(where));
    }
    QVERIFY2(compared > 1000, qPrintable(QString::number(compared)));
}

void TestJsonReader::pullApi()
{
    JsonReader reader(R"( {"plain": [1, "two", {"x": null}], "esc\u0061ped\n": true, "s": "v"} )");
    QCOMPARE(reader.peek(), JsonReader::Type::Object);
    QVERIFY(reader.enterObject());
    std::string_view key;
    QVERIFY(reader.nextKey(key));
    QCOMPARE(std::string(key), std::string("plain"));
    QCOMPARE(reader.peek(), JsonReader::Type::Array);
    QVERIFY(reader.enterArray());
    QVERIFY(reader.nextElement());
    QCOMPARE(reader.peek(), JsonReader::Type::Number);
    QVERIFY(reader.skipValue());
    QVERIFY(reader.nextElement());
    std::string text;
    QVERIFY(reader.readString(text));
    QCOMPARE(text, std::string("two"));
    QVERIFY(reader.nextElement());
    QVERIFY(reader.skipValue());
    QVERIFY(!reader.nextElement());
    QVERIFY(reader.nextKey(key));
    QCOMPARE(std::string(key), std::string("escaped\n"));
    QCOMPARE(reader.peek(), JsonReader::Type::Bool);
    QVERIFY(reader.skipValue());
    QVERIFY(reader.nextKey(key));
    QByteArray bytes;
    QVERIFY(reader.readString(bytes));
    QCOMPARE(bytes, QByteArray("v"));
    QVERIFY(!reader.nextKey(key));
    QVERIFY(reader.expectEnd());
    QVERIFY(!reader.failed());

    // Empty containers.
    JsonReader empty("[{}, []]");
    QVERIFY(empty.enterArray());
    QVERIFY(empty.nextElement());
    QVERIFY(empty.enterObject());
    QVERIFY(!empty.nextKey(key));
    QVERIFY(empty.nextElement());
    QVERIFY(empty.enterArray());
    QVERIFY(!empty.nextElement());
    QVERIFY(!empty.nextElement());
    QVERIFY(empty.expectEnd());

    // Asking for the wrong type is an error.
    JsonReader wrong("[1]");
    QVERIFY(!wrong.enterObject());
    QVERIFY(wrong.failed());
    QCOMPARE(wrong.peek(), JsonReader::Type::Invalid);
    QCOMPARE(JsonReader::typeName(JsonReader::Type::Null), QStringLiteral("null"));
    QCOMPARE(JsonReader::typeName(JsonReader::Type::Object), QStringLiteral("an object"));
}

void TestJsonReader::compactReading()
{
    // A layout matched with literals; values read with the usual calls.
    JsonReader reader(R"({"a":{"k":"v","n":[1,{"x":"\u0079"}],"e\u0073c":true},"z":7})");
    QVERIFY(!reader.consumeLiteral("{\"b\":"));
    QCOMPARE(reader.offset(), 0); // nothing consumed by a mismatch
    QVERIFY(!reader.failed());
    QVERIFY(reader.consumeLiteral("{\"a\":{", 2));
    std::string_view key;
    QVERIFY(reader.consumeKey(key));
    QCOMPARE(std::string(key), std::string("k"));
    QByteArrayView text;
    QCOMPARE(reader.peek(), JsonReader::Type::String);
    QVERIFY(reader.skipValue(text));
    QCOMPARE(text.toByteArray(), QByteArray("\"v\""));
    QVERIFY(reader.consumeLiteral(","));
    QVERIFY(reader.consumeKey(key));
    QCOMPARE(std::string(key), std::string("n"));
    QVERIFY(reader.skipValue(text));
    QCOMPARE(text.toByteArray(), QByteArray(R"([1,{"x":"\u0079"}])"));
    QVERIFY(reader.consumeLiteral(","));
    // A name with an escape is not taken in place.
    QVERIFY(!reader.consumeKey(key));
    QVERIFY(!reader.failed());
    QVERIFY(reader.consumeLiteral("\"e\\u0073c\":true}", -1));
    QVERIFY(reader.consumeLiteral(",\"z\":"));
    qint64 value = 0;
    QCOMPARE(reader.readInteger(value), JsonReader::IntegerRead::Ok);
    QCOMPARE(value, 7);
    QVERIFY(reader.consumeLiteral("}", -1));
    QVERIFY(reader.expectEnd());

    // Keys with escapes are decoded, and say so.
    JsonReader escaped(R"({"plain":1,"e\u0073c":2})");
    QVERIFY(escaped.enterObject());
    QVERIFY(escaped.nextKey(key));
    QVERIFY(!escaped.keyDecoded());
    QVERIFY(escaped.skipValue());
    QVERIFY(escaped.nextKey(key));
    QVERIFY(escaped.keyDecoded());
    QCOMPARE(std::string(key), std::string("esc"));

    // The depth a literal opens counts against the limit.
    const QByteArray deep = "{\"a\":" + QByteArray(JsonReader::MaxDepth, '[') + QByteArray(JsonReader::MaxDepth, ']') + "}";
    JsonReader counted(deep);
    QVERIFY(counted.consumeLiteral("{\"a\":", 1));
    QVERIFY(!counted.skipValue());
    QVERIFY(counted.errorMessage().startsWith(QStringLiteral("nested deeper than 512 levels")));
    JsonReader uncounted(deep);
    QVERIFY(uncounted.consumeLiteral("{\"a\":"));
    QVERIFY(uncounted.skipValue());
    QVERIFY(readWithReader(deep).error.startsWith(QStringLiteral("nested deeper than 512 levels")));
}

void TestJsonReader::integers()
{
    auto read = [](const char *text, qint64 &value) {
        JsonReader reader{QByteArrayView(text)};
        return reader.readInteger(value);
    };
    qint64 v = 0;
    QCOMPARE(read("42", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, 42);
    QCOMPARE(read("-7", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, -7);
    QCOMPARE(read("9223372036854775807", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, std::numeric_limits<qint64>::max());
    QCOMPARE(read("-9223372036854775808", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, std::numeric_limits<qint64>::min());
    QCOMPARE(read("9223372036854775808", v), JsonReader::IntegerRead::OutOfRange);
    QCOMPARE(read("1.0", v), JsonReader::IntegerRead::NotInteger);
    QCOMPARE(read("1e3", v), JsonReader::IntegerRead::NotInteger);
    QCOMPARE(read("\"1\"", v), JsonReader::IntegerRead::Failed);
    QCOMPARE(read("01", v), JsonReader::IntegerRead::Ok); // the stray digit is the caller's next token
    // Digits are read eight at a time: every length, and every place near
    // the end of the input, reads the same as from_chars.
    for (int digits = 1; digits <= 19; ++digits) {
        const QByteArray number = QByteArray("1234567890123456789").left(digits);
        for (const QByteArray &after : {QByteArray(), QByteArray("}"), QByteArray(",\"x\":12345678901234"), QByteArray(" ")}) {
            const QByteArray text = number + after;
            qint64 expected = 0;
            std::from_chars(number.constData(), number.constData() + number.size(), expected);
            JsonReader reader{QByteArrayView(text)};
            QCOMPARE(reader.readInteger(v), JsonReader::IntegerRead::Ok);
            QCOMPARE(v, expected);
            QCOMPARE(reader.offset(), number.size());
            const QByteArray negativeText = "-" + text;
            JsonReader negative{QByteArrayView(negativeText)};
            QCOMPARE(negative.readInteger(v), JsonReader::IntegerRead::Ok);
            QCOMPARE(v, -expected);
        }
    }
    QCOMPARE(read("0", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, 0);
    QCOMPARE(read("-0", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, 0);
    QCOMPARE(read("12345678:", v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, 12345678);
    QCOMPARE(read("123456789.5", v), JsonReader::IntegerRead::NotInteger);
    QCOMPARE(read("12345678e1", v), JsonReader::IntegerRead::NotInteger);
    QCOMPARE(read("-", v), JsonReader::IntegerRead::Failed);
    // After NotInteger the reader goes on.
    JsonReader reader("[1.5, 2]");
    reader.enterArray();
    reader.nextElement();
    QCOMPARE(reader.readInteger(v), JsonReader::IntegerRead::NotInteger);
    QVERIFY(reader.nextElement());
    QCOMPARE(reader.readInteger(v), JsonReader::IntegerRead::Ok);
    QCOMPARE(v, 2);
}

void TestJsonReader::denseEscapes()
{
    // Strings the way S2 writes record bodies: escaped JSON, an escape every
    // few bytes, with multi-byte UTF-8 and \u escapes between, at every
    // offset against the reader's 8 and 16 byte blocks, followed by more input
    // or not. Each must decode as nlohmann decodes it, or fail where it fails.
    static const char *const pieces[] = {"\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\ud83d\\ude00",
                                         "a", "bc", "def ", "caf\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x98\x80",
                                         "0123456789abcdef", "\\u0000", "\\x", "\x01", "\xc3"};
    QRandomGenerator random(16);
    int accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        QByteArray text = "\"" + QByteArray(random.bounded(20), 'p');
        const int count = 1 + random.bounded(40);
        // Mostly valid pieces; the last three break the string.
        const int choices = random.bounded(8) == 0 ? int(std::size(pieces)) : int(std::size(pieces)) - 3;
        for (int i = 0; i < count; ++i)
            text += pieces[random.bounded(choices)];
        text += "\"";
        if (random.bounded(2))
            text += QByteArray(random.bounded(40), ' ');
        const QString diff = difference(text);
        if (!diff.isEmpty())
            QFAIL(qPrintable(QStringLiteral("round %1: %2").arg(round).arg(diff)));
        JsonReader reader(text);
        QByteArray bytes;
        std::string string;
        JsonReader again(text);
        QCOMPARE(reader.readString(bytes), again.readString(string));
        if (!reader.failed()) {
            QCOMPARE(bytes, QByteArray::fromStdString(string));
            ++accepted;
        }
    }
    QVERIFY2(accepted > 10000, qPrintable(QString::number(accepted)));
}

void TestJsonReader::errorsSayWhere()
{
    const auto errorOf = [](const QByteArray &text) { return readWithReader(text).error; };
    QCOMPARE(errorOf("[1, 2"), QStringLiteral("unexpected end of input at byte 5"));
    QCOMPARE(errorOf("[1 2]"), QStringLiteral("unexpected '2' where ',' or ']' belongs at byte 3"));
    QCOMPARE(errorOf("{\"a\" 1}"), QStringLiteral("unexpected '1' where ':' belongs at byte 5"));
    QCOMPARE(errorOf("\"ab\xff\""), QStringLiteral("invalid UTF-8 in a string at byte 3"));
    QCOMPARE(errorOf("\"a\nb\""), QStringLiteral("control character in a string at byte 2"));
    QCOMPARE(errorOf("\"\\q\""), QStringLiteral("invalid escape '\\q' at byte 1"));
    QCOMPARE(errorOf("\"\\ud83d\""), QStringLiteral("unpaired surrogate in a \\u escape at byte 1"));
    QCOMPARE(errorOf("[1] x"), QStringLiteral("unexpected 'x' after the JSON value at byte 4"));
    QCOMPARE(errorOf("\x01"), QStringLiteral("unexpected byte 0x01 at byte 0"));
    QCOMPARE(errorOf("1e999"), QStringLiteral("number out of range at byte 0"));
    JsonReader reader("[tru]");
    QVERIFY(!reader.skipValue());
    QCOMPARE(reader.errorOffset(), 1);
}

void TestJsonReader::depthLimit()
{
    const QByteArray ok = QByteArray(JsonReader::MaxDepth, '[') + QByteArray(JsonReader::MaxDepth, ']');
    QVERIFY(readWithReader(ok).ok);
    QVERIFY(skipAccepts(ok));
    const QByteArray deep = QByteArray(JsonReader::MaxDepth + 2, '[') + QByteArray(JsonReader::MaxDepth + 2, ']');
    QVERIFY(readWithReader(deep).error.startsWith(QStringLiteral("nested deeper than 512 levels")));
    QVERIFY(!skipAccepts(deep));
    // Far deeper input fails the same way, without exhausting the stack.
    QVERIFY(!readWithReader(QByteArray(1000000, '[')).ok);
    QVERIFY(!skipAccepts(QByteArray(1000000, '{')));
}

QTEST_GUILESS_MAIN(TestJsonReader)
#include "tst_jsonreader.moc"
