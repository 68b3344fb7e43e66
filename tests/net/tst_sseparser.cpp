#include "net/sseparser.h"

#include "tests/net/netfixtures.h"

#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace sessionscope {
// Readable failure messages for QCOMPARE.
char *toString(const SseEvent &event)
{
    return QTest::toString("{type=" + event.type.toPercentEncoding() + " data=" +
                           event.data.toPercentEncoding() + " id=" + event.id.toPercentEncoding() + "}");
}
} // namespace sessionscope

namespace {

SseEvent ev(const QByteArray &data, const QByteArray &type = "message", const QByteArray &id = {})
{
    return SseEvent{type, data, id};
}

// Hands `bytes` to `feed` in pieces cut at `cuts` (ascending offsets).
template <typename Feed>
void feedCut(QByteArrayView bytes, const QList<qsizetype> &cuts, Feed feed)
{
    qsizetype from = 0;
    for (qsizetype cut : cuts) {
        feed(bytes.sliced(from, cut - from));
        from = cut;
    }
    feed(bytes.sliced(from));
}

// Feeds `bytes` cut at `cuts` into a fresh parser.
QList<SseEvent> parseCut(QByteArrayView bytes, const QList<qsizetype> &cuts, SseParser &parser)
{
    QList<SseEvent> events;
    feedCut(bytes, cuts, [&](QByteArrayView piece) { parser.feed(piece, events); });
    return events;
}

QList<SseEvent> parseBytewise(QByteArrayView bytes, SseParser &parser)
{
    QList<SseEvent> events;
    for (qsizetype i = 0; i < bytes.size(); ++i)
        parser.feed(bytes.sliced(i, 1), events);
    return events;
}

QByteArray withLineEnds(QByteArray text, const QByteArray &ending)
{
    return text.replace("\n", ending);
}

// The events of feedViews(), copied out of their views while they hold.
QList<SseEvent> viewedEvents(QByteArrayView bytes, const QList<qsizetype> &cuts, SseParser &parser)
{
    QList<SseEvent> events;
    const auto collect = [&](const SseEventView &view) {
        events.append(SseEvent{view.type.toByteArray(), view.data.toByteArray(), view.id.toByteArray()});
    };
    feedCut(bytes, cuts, [&](QByteArrayView piece) { parser.feedViews(piece, collect); });
    return events;
}

// Every single split point and byte by byte give the events of one piece, and
// leave the parser in the same state.
void checkEverySplit(const QByteArray &bytes)
{
    SseParser whole;
    QList<SseEvent> expected;
    whole.feed(bytes, expected);
    for (qsizetype cut = 0; cut <= bytes.size(); ++cut) {
        SseParser parser;
        const QList<SseEvent> events = parseCut(bytes, {cut}, parser);
        if (events != expected)
            QFAIL(qPrintable(QStringLiteral("split at byte %1 differs").arg(cut)));
        QCOMPARE(parser.lastEventId(), whole.lastEventId());
        QCOMPARE(parser.retryMs(), whole.retryMs());
    }
    SseParser parser;
    QCOMPARE(parseBytewise(bytes, parser), expected);
    QCOMPARE(parser.lastEventId(), whole.lastEventId());
    QVERIFY(parser.takeErrors().isEmpty());
}

} // namespace

class TestSseParser : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void whatwgExamples_data();
    void whatwgExamples();
    void lineEndings_data();
    void lineEndings();
    void crLfSplitAcrossChunks();
    void byteOrderMark();
    void fields();
    void lastEventIdPersists();
    void retry();
    void eventTypeResets();
    void fixturesEverySplit_data();
    void fixturesEverySplit();
    void syntheticEveryTwoSplits();
    void viewsGiveTheSameEvents_data();
    void viewsGiveTheSameEvents();
    void oversizedLine();
    void oversizedLineAtOnce();
    void oversizedByManyLines();
    void capBoundary();
    void finishReportsTruncatedEvent();
    void finishThenNewStream();
    void reset();
};

void TestSseParser::whatwgExamples_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<QList<SseEvent>>("expected");
    QTest::addColumn<QByteArray>("lastEventId");

    QTest::newRow("stock ticker: multi-line data")
        << QByteArray("data: YHOO\ndata: +2\ndata: 10\n\n") << QList<SseEvent>{ev("YHOO\n+2\n10")} << QByteArray();
    // The spec's second example: a comment, an id, an id line without a value
    // (resets the id), and a value whose second leading space is kept.
    QTest::newRow("test stream with ids")
        << QByteArray(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n")
        << QList<SseEvent>{ev("first event", "message", "1"), ev("second event"), ev(" third event")}
        << QByteArray();
    // Empty data lines: "", then "\n"; the last block has no blank line and is dropped.
    QTest::newRow("empty data and a trailing block")
        << QByteArray("data\n\ndata\ndata\n\ndata:") << QList<SseEvent>{ev(""), ev("\n")} << QByteArray();
    QTest::newRow("one optional space")
        << QByteArray("data:test\n\ndata: test\n\n") << QList<SseEvent>{ev("test"), ev("test")} << QByteArray();
    QTest::newRow("event names")
        << QByteArray("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n")
        << QList<SseEvent>{ev("73857293", "add"), ev("2153", "remove"), ev("113411", "add")} << QByteArray();
    QTest::newRow("field without a colon is a field with an empty value")
        << QByteArray("data\n\nevent\ndata: x\n\n") << QList<SseEvent>{ev(""), ev("x")} << QByteArray();
    QTest::newRow("comments only") << QByteArray(": one\n:two\n\n: three\n\n") << QList<SseEvent>{} << QByteArray();
    QTest::newRow("unknown fields are ignored")
        << QByteArray("foo: bar\ndata: a\nDATA: b\n data: c\n\n") << QList<SseEvent>{ev("a")} << QByteArray();
    QTest::newRow("event without data dispatches nothing")
        << QByteArray("event: ping\nid: 7\n\n") << QList<SseEvent>{} << QByteArray("7");
    QTest::newRow("colon inside the value")
        << QByteArray("data: a:b: c\n\n") << QList<SseEvent>{ev("a:b: c")} << QByteArray();
    QTest::newRow("id with NUL is ignored")
        << QByteArray("id: 1\n\nid: 2\0x\ndata: d\n\n", 24) << QList<SseEvent>{ev("d", "message", "1")}
        << QByteArray("1");
}

void TestSseParser::whatwgExamples()
{
    QFETCH(QByteArray, stream);
    QFETCH(QList<SseEvent>, expected);
    QFETCH(QByteArray, lastEventId);

    SseParser parser;
    QList<SseEvent> events;
    parser.feed(stream, events);
    QCOMPARE(events, expected);
    QCOMPARE(parser.lastEventId(), lastEventId);
    QVERIFY(parser.takeErrors().isEmpty());
    checkEverySplit(stream);
}

void TestSseParser::lineEndings_data()
{
    QTest::addColumn<QByteArray>("ending");
    QTest::newRow("LF") << QByteArray("\n");
    QTest::newRow("CR") << QByteArray("\r");
    QTest::newRow("CRLF") << QByteArray("\r\n");
}

void TestSseParser::lineEndings()
{
    QFETCH(QByteArray, ending);
    const QByteArray stream = withLineEnds("event: a\ndata: 1\ndata: 2\nid: x\n\n: c\ndata: 3\n\n", ending);
    const QList<SseEvent> expected{ev("1\n2", "a", "x"), ev("3", "message", "x")};
    QCOMPARE(parseWhole(stream), expected);
    checkEverySplit(stream);

    // Mixed endings in one stream.
    const QByteArray mixed("data: 1\rdata: 2\r\ndata: 3\n\r\ndata: 4\r\r");
    QCOMPARE(parseWhole(mixed), (QList<SseEvent>{ev("1\n2\n3"), ev("4")}));
    checkEverySplit(mixed);
}

void TestSseParser::crLfSplitAcrossChunks()
{
    // CR ends one chunk and LF starts the next: one line end, not a blank line.
    SseParser parser;
    QList<SseEvent> events;
    parser.feed("data: a\r", events);
    parser.feed("\ndata: b\r", events);
    QVERIFY(events.isEmpty());
    parser.feed("\n\r", events);
    // That lone CR is a blank line by itself: the event goes out at once...
    QCOMPARE(events, (QList<SseEvent>{ev("a\nb")}));
    // ...and the LF that follows belongs to it, so it is not a second blank line.
    parser.feed("\ndata: c\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("a\nb"), ev("c")}));

    // A CR at the end and something else next: the CR was a line end by itself.
    SseParser other;
    QList<SseEvent> more;
    other.feed("data: a\r", more);
    other.feed("\r", more);
    QCOMPARE(more, (QList<SseEvent>{ev("a")}));
    // An empty chunk between CR and LF changes nothing.
    SseParser third;
    QList<SseEvent> thirdEvents;
    third.feed("data: a\r", thirdEvents);
    third.feed("", thirdEvents);
    third.feed("\n\n", thirdEvents);
    QCOMPARE(thirdEvents, (QList<SseEvent>{ev("a")}));
}

void TestSseParser::byteOrderMark()
{
    const QByteArray bom("\xEF\xBB\xBF");
    QCOMPARE(parseWhole(bom + "data: x\n\n"), (QList<SseEvent>{ev("x")}));
    checkEverySplit(bom + "data: x\n\n");
    // Only the first BOM is stripped: a second one is part of the field name.
    QCOMPARE(parseWhole(bom + bom + "data: x\n\ndata: y\n\n"), (QList<SseEvent>{ev("y")}));
    // A BOM prefix that is not a BOM stays content (here: part of an unknown field name).
    QCOMPARE(parseWhole("\xEF\xBB" "data: x\n\ndata: y\n\n"), (QList<SseEvent>{ev("y")}));
    checkEverySplit("\xEF\xBB" "data: x\n\ndata: y\n\n");
    // A lone 0xEF then a line end: the held byte is a line of its own.
    QCOMPARE(parseWhole("\xEF\ndata: z\n\n"), (QList<SseEvent>{ev("z")}));
    checkEverySplit("\xEF\ndata: z\n\n");
}

void TestSseParser::fields()
{
    QCOMPARE(parseWhole("data:\n\n"), (QList<SseEvent>{ev("")}));
    QCOMPARE(parseWhole("data:  two spaces\n\n"), (QList<SseEvent>{ev(" two spaces")}));
    QCOMPARE(parseWhole("data:\tx\n\n"), (QList<SseEvent>{ev("\tx")}));
    QCOMPARE(parseWhole("event:\ndata: x\n\n"), (QList<SseEvent>{ev("x")}));
    QCOMPARE(parseWhole("event: e1\nevent: e2\ndata: x\n\n"), (QList<SseEvent>{ev("x", "e2")}));
    QCOMPARE(parseWhole(":data: x\n\n"), QList<SseEvent>{});
    // Bytes are kept as they are, invalid UTF-8 included.
    QCOMPARE(parseWhole("data: \xff\xfe\n\n"), (QList<SseEvent>{ev("\xff\xfe")}));
}

void TestSseParser::lastEventIdPersists()
{
    SseParser parser;
    QList<SseEvent> events;
    parser.feed("id: 5\ndata: a\n\ndata: b\n\nid: 6\n\ndata: c\n\nid:\ndata: d\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("a", "message", "5"), ev("b", "message", "5"),
                                      ev("c", "message", "6"), ev("d")}));
    QCOMPARE(parser.lastEventId(), QByteArray());
}

void TestSseParser::retry()
{
    SseParser parser;
    QList<SseEvent> events;
    QCOMPARE(parser.retryMs(), std::nullopt);
    parser.feed("retry: 2500\n\n", events);
    QCOMPARE(parser.retryMs(), 2500);
    parser.feed("retry: 12a\nretry: -1\nretry: \nretry: 1.5\nretry:99999999999999999999\n\n", events);
    QCOMPARE(parser.retryMs(), 2500);
    parser.feed("retry:0\n\n", events);
    QCOMPARE(parser.retryMs(), 0);
    QVERIFY(events.isEmpty());
}

void TestSseParser::eventTypeResets()
{
    QCOMPARE(parseWhole("event: batch\ndata: 1\n\ndata: 2\n\nevent: x\n\ndata: 3\n\n"),
             (QList<SseEvent>{ev("1", "batch"), ev("2"), ev("3")}));
}

void TestSseParser::fixturesEverySplit_data()
{
    QTest::addColumn<QByteArray>("bytes");
    const QStringList names = sseFixtures();
    QVERIFY2(!names.isEmpty(), qPrintable(QStringLiteral("no *.sse fixtures in ") + sharedDir()));
    for (const QString &name : names) {
        const QByteArray bytes = readFixture(name);
        QTest::newRow(qPrintable(name)) << bytes;
        QTest::newRow(qPrintable(name + QStringLiteral(" CRLF"))) << withLineEnds(bytes, "\r\n");
        QTest::newRow(qPrintable(name + QStringLiteral(" CR"))) << withLineEnds(bytes, "\r");
        QTest::newRow(qPrintable(name + QStringLiteral(" BOM"))) << QByteArray("\xEF\xBB\xBF") + bytes;
    }
}

void TestSseParser::fixturesEverySplit()
{
    QFETCH(QByteArray, bytes);
    const QList<SseEvent> events = parseWhole(bytes);
    QVERIFY(!events.isEmpty());
    // Every event of a session capture is a batch, a ping, or [DONE].
    for (const SseEvent &event : events) {
        QVERIFY2(event.type == "batch" || event.type == "ping" || (event.type == "message" && event.data == "[DONE]"),
                 event.type.constData());
        QVERIFY(!event.data.contains('\r'));
    }
    checkEverySplit(bytes);
}

void TestSseParser::syntheticEveryTwoSplits()
{
    // Everything that carries state between chunks, cut at every pair of points.
    const QByteArray stream("\xEF\xBB\xBF: hi\r\nid: 1\rdata: a\r\ndata\n\r\nevent: e\ndata: b\r\rretry: 30\n"
                            "data: c\r\n\r\n");
    const QList<SseEvent> expected{ev("a\n", "message", "1"), ev("b", "e", "1"), ev("c", "message", "1")};
    QCOMPARE(parseWhole(stream), expected);
    for (qsizetype a = 0; a <= stream.size(); ++a) {
        for (qsizetype b = a; b <= stream.size(); ++b) {
            SseParser parser;
            if (parseCut(stream, {a, b}, parser) != expected)
                QFAIL(qPrintable(QStringLiteral("cuts at %1 and %2 differ").arg(a).arg(b)));
            QCOMPARE(parser.retryMs(), 30);
        }
    }
}

void TestSseParser::viewsGiveTheSameEvents_data()
{
    fixturesEverySplit_data();
    QTest::newRow("synthetic") << QByteArray("\xEF\xBB\xBF: hi\r\nid: 1\rdata: a\r\ndata\n\r\nevent: e\ndata: b\r\rretry: "
                                             "30\ndata: c\r\n\r\nid\ndata: d\ndata: e\n\n");
}

void TestSseParser::viewsGiveTheSameEvents()
{
    // feedViews() views an event's data in the bytes fed when it can and
    // copies it when it spans feeds or lines: the same events either way.
    QFETCH(QByteArray, bytes);
    const QList<SseEvent> expected = parseWhole(bytes);
    QVERIFY(!expected.isEmpty());
    for (qsizetype cut = 0; cut <= bytes.size(); ++cut) {
        SseParser parser;
        if (viewedEvents(bytes, {cut}, parser) != expected)
            QFAIL(qPrintable(QStringLiteral("split at byte %1 differs").arg(cut)));
    }
    QList<qsizetype> everyByte;
    for (qsizetype i = 1; i < bytes.size(); ++i)
        everyByte.append(i);
    SseParser bytewise;
    QCOMPARE(viewedEvents(bytes, everyByte, bytewise), expected);
    QVERIFY(bytewise.takeErrors().isEmpty());
}

void TestSseParser::oversizedLine()
{
    // A 20 MiB line, fed the way a socket delivers it, against the default 16 MiB cap.
    SseParser parser;
    QCOMPARE(parser.maxEventBytes(), 16 * 1024 * 1024);
    QList<SseEvent> events;
    parser.feed("data: ok1\n\ndata: ", events);
    const QByteArray piece(64 * 1024, 'a');
    for (int i = 0; i < 20 * 16; ++i)
        parser.feed(piece, events);
    parser.feed("\ndata: still the dropped event\n\ndata: ok2\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("ok1"), ev("ok2")}));
    const QList<Error> errors = parser.takeErrors();
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.first().message.contains(QStringLiteral("larger than 16777216 bytes")),
             qPrintable(errors.first().message));
    QVERIFY(parser.takeErrors().isEmpty());
}

void TestSseParser::oversizedLineAtOnce()
{
    SseParser parser(1024);
    QList<SseEvent> events;
    QByteArray stream("data: ");
    stream += QByteArray(4096, 'b');
    stream += "\r\n\r\ndata: after\r\n\r\n";
    parser.feed(stream, events);
    QCOMPARE(events, (QList<SseEvent>{ev("after")}));
    QCOMPARE(parser.takeErrors().size(), 1);
    // The same, byte by byte.
    SseParser bytewise(1024);
    QCOMPARE(parseBytewise(stream, bytewise), (QList<SseEvent>{ev("after")}));
    QCOMPARE(bytewise.takeErrors().size(), 1);
}

void TestSseParser::oversizedByManyLines()
{
    // Many short data lines and no blank line: the event as a whole hits the cap.
    SseParser parser(10 * 1024);
    QList<SseEvent> events;
    const QByteArray line = "data: " + QByteArray(100, 'c') + "\n";
    for (int i = 0; i < 1000; ++i)
        parser.feed(line, events);
    QVERIFY(events.isEmpty());
    QCOMPARE(parser.takeErrors().size(), 1);
    parser.feed("\ndata: next\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("next")}));
    QVERIFY(parser.takeErrors().isEmpty());
}

void TestSseParser::capBoundary()
{
    // The cap counts the buffered bytes: a line of exactly the cap passes, one more byte does not.
    const QByteArray fits = "data: " + QByteArray(94, 'x'); // 100 bytes
    SseParser parser(100);
    QList<SseEvent> events;
    parser.feed(fits + "\n\n", events);
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.first().data.size(), 94);
    QVERIFY(parser.takeErrors().isEmpty());
    parser.feed(fits + "y\n\ndata: z\n\n", events);
    QCOMPARE(events.size(), 2);
    QCOMPARE(events.last(), ev("z"));
    QCOMPARE(parser.takeErrors().size(), 1);
}

void TestSseParser::finishReportsTruncatedEvent()
{
    SseParser parser;
    QList<SseEvent> events;
    parser.feed("data: complete\n\ndata: cut", events);
    QCOMPARE(events.size(), 1);
    const auto error = parser.finish();
    QVERIFY(error.has_value());
    QVERIFY2(error->message.contains(QStringLiteral("ended inside an event")), qPrintable(error->message));

    SseParser clean;
    clean.feed("data: complete\n\n: trailing comment\n", events);
    QVERIFY(!clean.finish().has_value());
    // A data line without its blank line loses data: reported.
    SseParser noBlank;
    noBlank.feed("data: x\n", events);
    QVERIFY(noBlank.finish().has_value());
}

void TestSseParser::finishThenNewStream()
{
    SseParser parser;
    QList<SseEvent> events;
    parser.feed("id: 3\nretry: 10\ndata: a", events);
    QVERIFY(parser.finish().has_value());
    // A new stream: the partial event is gone, a BOM is stripped again, id and retry survive.
    parser.feed("\xEF\xBB\xBF" "data: b\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("b", "message", "3")}));
    QCOMPARE(parser.retryMs(), 10);
}

void TestSseParser::reset()
{
    SseParser parser(64);
    QList<SseEvent> events;
    parser.feed("id: 3\nretry: 10\ndata: a" + QByteArray(100, 'a'), events);
    parser.reset();
    QCOMPARE(parser.lastEventId(), QByteArray());
    QCOMPARE(parser.retryMs(), std::nullopt);
    QVERIFY(parser.takeErrors().isEmpty());
    QCOMPARE(parser.maxEventBytes(), 64);
    parser.feed("data: fresh\n\n", events);
    QCOMPARE(events, (QList<SseEvent>{ev("fresh")}));
}

QTEST_GUILESS_MAIN(TestSseParser)
#include "tst_sseparser.moc"
