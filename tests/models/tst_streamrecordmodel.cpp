#include "models/recordbatchdecoder.h"
#include "models/streamrecordfiltermodel.h"
#include "models/streamrecordmodel.h"

#include "modeltestsupport.h"
#include "netfixtures.h"

#include <QAbstractItemModelTester>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

// The fixture, fed to a decoder in pieces of random size.
RecordBatch fixtureBatch(quint32 seed)
{
    const QByteArray sse = readFixture(QStringLiteral("two-turns.sse"));
    RecordBatchDecoder decoder;
    QRandomGenerator random(seed);
    for (qsizetype at = 0; at < sse.size();) {
        const qsizetype n = qMin<qsizetype>(sse.size() - at, 1 + random.bounded(97));
        decoder.feedSse(Channel::Out, QByteArrayView(sse).sliced(at, n));
        at += n;
    }
    return decoder.takeBatch();
}

QList<StreamRecord> deltas(qint64 firstSeq, int count)
{
    QList<StreamRecord> out;
    for (int i = 0; i < count; ++i)
        out.append(textDelta(firstSeq + i, QStringLiteral("d%1").arg(firstSeq + i)));
    return out;
}

QString cell(const QAbstractItemModel &model, int row, int column)
{
    return model.data(model.index(row, column)).toString();
}

} // namespace

class TestStreamRecordModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixtureRows()
    {
        StreamRecordModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        model.appendBatch(fixtureBatch(1));
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(model.rowCount(), 22);
        QCOMPARE(model.lastSeq(Channel::Out), 21);

        QCOMPARE(cell(model, 0, StreamRecordModel::TypeColumn), QStringLiteral("start"));
        QCOMPARE(cell(model, 0, StreamRecordModel::SummaryColumn), QStringLiteral("JIVcwoE0UhCLLoNf"));
        QCOMPARE(cell(model, 3, StreamRecordModel::TypeColumn), QStringLiteral("text-delta"));
        QCOMPARE(cell(model, 3, StreamRecordModel::SummaryColumn), QStringLiteral("Hello"));
        QCOMPARE(cell(model, 4, StreamRecordModel::SummaryColumn), QStringLiteral(", "));
        QCOMPARE(cell(model, 3, StreamRecordModel::ChannelColumn), QStringLiteral("out"));
        QCOMPARE(cell(model, 3, StreamRecordModel::KindColumn), QStringLiteral("data"));
        QCOMPARE(model.data(model.index(3, 0), StreamRecordModel::SeqRole).toLongLong(), 3);
        QCOMPARE(model.data(model.index(3, 0), StreamRecordModel::TimestampRole).toLongLong(), 1763700000021);
        QCOMPARE(cell(model, 8, StreamRecordModel::SummaryColumn), QStringLiteral("stop"));

        // The turn-complete: subtype, consumed .in seq, and a token that never shows.
        const QModelIndex control = model.index(9, 0);
        QCOMPARE(cell(model, 9, StreamRecordModel::KindColumn), QStringLiteral("control"));
        QCOMPARE(cell(model, 9, StreamRecordModel::TypeColumn), QStringLiteral("turn-complete"));
        const QString summary = cell(model, 9, StreamRecordModel::SummaryColumn);
        QVERIFY2(summary.contains(QStringLiteral("in seq 0")), qPrintable(summary));
        QVERIFY2(summary.contains(QStringLiteral("new access token")), qPrintable(summary));
        QVERIFY(model.data(control, StreamRecordModel::CarriesTokenRole).toBool());
        const QVariantList headers = model.data(control, StreamRecordModel::HeadersRole).toList();
        QCOMPARE(headers.size(), 3);
        for (const QVariant &h : headers)
            QVERIFY2(!h.toStringList().join(u' ').contains(QStringLiteral(".sig")), "the token leaked");
        // The stored record itself stays exact: the client needs the token.
        const StreamRecord exact = model.streamRecord(9);
        QCOMPARE(exact.kind, RecordKind::Control);
        QVERIFY(publicAccessToken(exact)->endsWith(".sig"));
        QCOMPARE(*sessionInEventId(exact), QByteArray("0"));

        QCOMPARE(cell(model, 10, StreamRecordModel::KindColumn), QStringLiteral("command"));
        QCOMPARE(cell(model, 10, StreamRecordModel::TypeColumn), QStringLiteral("trim"));
        QCOMPARE(model.streamRecord(10).body, QByteArray(8, '\0'));
        // Size: body plus header names and values.
        QCOMPARE(model.data(model.index(10, 0), StreamRecordModel::SizeRole).toLongLong(), 8 + 4);
        QCOMPARE(model.data(model.index(3, 0), StreamRecordModel::BodyRole).toByteArray(),
                 QByteArray(R"({"data":{"type":"text-delta","id":"t1","delta":"Hello"},"id":"p3"})"));
        QCOMPARE(model.headerData(StreamRecordModel::SummaryColumn, Qt::Horizontal).toString(), QStringLiteral("Summary"));
    }

    void oneInsertionPerBatch()
    {
        StreamRecordModel model;
        StreamRecordFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester proxyTester(&filter, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        for (int b = 0; b < 10; ++b)
            model.appendBatch(decodeToBatch(Channel::Out, deltas(b * 250, 250)));
        QCOMPARE(inserted.size(), 10);
        for (int b = 0; b < 10; ++b) {
            QCOMPARE(inserted[b][1].toInt(), b * 250);
            QCOMPARE(inserted[b][2].toInt(), b * 250 + 249);
        }
        QCOMPARE(model.rowCount(), 2500);
        QCOMPARE(filter.rowCount(), 2500);
        QCOMPARE(cell(model, 1234, StreamRecordModel::SummaryColumn), QStringLiteral("d1234"));
    }

    void duplicatesAndOutOfOrderAreDropped()
    {
        StreamRecordModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.appendBatch(decodeToBatch(Channel::Out, deltas(0, 10)));
        // A replay after a resume overlaps what is already there.
        RecordBatch replay;
        {
            RecordBatchDecoder decoder(RecordBatchDecoder::Options{false, 160});
            decoder.addRecords(Channel::Out, deltas(5, 10)); // seqs 5..14
            replay = decoder.takeBatch();
        }
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        model.appendBatch(replay);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(model.rowCount(), 15);
        QCOMPARE(model.droppedRecords(), 5);
        for (int row = 0; row < 15; ++row)
            QCOMPARE(model.record(row).seq, row);
        model.appendBatch(replay); // nothing new: no insertion at all
        QCOMPARE(inserted.size(), 1);
    }

    void capEvictsOldestInOneRemoval()
    {
        StreamRecordModel model;
        model.setMaxRecords(1000);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy evicted(&model, &StreamRecordModel::recordsEvicted);
        for (int b = 0; b < 3; ++b)
            model.appendBatch(decodeToBatch(Channel::Out, deltas(b * 300, 300)));
        model.appendBatch(decodeToBatch(Channel::Out, deltas(900, 100)));
        QCOMPARE(model.rowCount(), 1000);
        QCOMPARE(removed.size(), 0);

        // Over the cap: one removal, down to 95 % of it, then one insertion.
        model.appendBatch(decodeToBatch(Channel::Out, deltas(1000, 300)));
        QCOMPARE(removed.size(), 1);
        QCOMPARE(inserted.size(), 5);
        QCOMPARE(removed[0][1].toInt(), 0);
        const int gone = removed[0][2].toInt() + 1;
        QCOMPARE(gone, 1300 - 950);
        QCOMPARE(evicted.size(), 1);
        QCOMPARE(evicted[0][0].toLongLong(), gone);
        QCOMPARE(model.rowCount(), 950);
        QCOMPARE(model.record(0).seq, 350);
        QCOMPARE(model.record(949).seq, 1299);
        QCOMPARE(cell(model, 0, StreamRecordModel::SummaryColumn), QStringLiteral("d350"));
        QCOMPARE(model.evictedRecords(), 350);
        QCOMPARE(model.rowForSeq(Channel::Out, 349), -1);
        QCOMPARE(model.rowForSeq(Channel::Out, 350), 0);
        QCOMPARE(model.rowForSeq(Channel::Out, 1299), 949);

        // Eviction over many rounds keeps memory flat: arena blocks go back.
        const qint64 retained = model.retainedBytes();
        for (int b = 0; b < 55; ++b)
            model.appendBatch(decodeToBatch(Channel::Out, deltas(1300 + b * 300, 300)));
        QVERIFY(model.rowCount() <= 1000);
        QCOMPARE(model.record(model.rowCount() - 1).seq, 1300 + 55 * 300 - 1);
        QCOMPARE(model.rowForSeq(Channel::Out, 1300 + 55 * 300 - 1), model.rowCount() - 1);
        QVERIFY2(model.retainedBytes() <= retained + 2 * qint64(ByteArena::DefaultBlockSize),
                 qPrintable(QStringLiteral("%1 -> %2").arg(retained).arg(model.retainedBytes())));
        for (int row = 1; row < model.rowCount(); ++row)
            QCOMPARE(model.record(row).seq, model.record(row - 1).seq + 1);
    }

    void batchLargerThanCapKeepsItsNewest()
    {
        StreamRecordModel model;
        model.setMaxRecords(100);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.appendBatch(decodeToBatch(Channel::Out, deltas(0, 50)));
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        model.appendBatch(decodeToBatch(Channel::Out, deltas(50, 400)));
        QCOMPARE(removed.size(), 1);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(model.rowCount(), 100);
        QCOMPARE(model.record(0).seq, 350);
        QCOMPARE(model.record(99).seq, 449);
        QCOMPARE(model.evictedRecords(), 350);
        // Shrinking the cap evicts right away.
        model.setMaxRecords(10);
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(model.record(0).seq, 440);
    }

    void byteCap()
    {
        StreamRecordModel model;
        model.setMaxStoredBytes(50'000);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        const QString big(400, QLatin1Char('x'));
        for (int b = 0; b < 20; ++b) {
            QList<StreamRecord> records;
            for (int i = 0; i < 20; ++i)
                records.append(textDelta(b * 20 + i, big));
            model.appendBatch(decodeToBatch(Channel::Out, records));
            QVERIFY2(model.storedBytes() <= 50'000, qPrintable(QString::number(model.storedBytes())));
        }
        QVERIFY(model.rowCount() > 50);
        QCOMPARE(model.record(model.rowCount() - 1).seq, 399);
    }

    void largeRecordsGetTheirOwnBlock()
    {
        StreamRecordModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        const QString huge(600'000, QLatin1Char('y'));
        model.appendBatch(decodeToBatch(Channel::Out, {textDelta(0, QStringLiteral("a")), textDelta(1, huge),
                                                       textDelta(2, QStringLiteral("b"))}));
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.streamRecord(1).body.size(), qsizetype(600'000 + 61));
        QCOMPARE(cell(model, 2, StreamRecordModel::SummaryColumn), QStringLiteral("b"));
        QVERIFY(cell(model, 1, StreamRecordModel::SummaryColumn).endsWith(QChar(0x2026)));
        QVERIFY(cell(model, 1, StreamRecordModel::SummaryColumn).size() <= 160);
    }

    void jumpToSeqAcrossChannels()
    {
        StreamRecordModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        // .out only at first: rows are the index.
        model.appendBatch(decodeToBatch(Channel::Out, {textDelta(10, QStringLiteral("a")), textDelta(12, QStringLiteral("b"))}));
        QCOMPARE(model.rowForSeq(Channel::Out, 12), 1);
        QCOMPARE(model.rowForSeq(Channel::Out, 11), -1);
        QCOMPARE(model.rowAtOrAfterSeq(Channel::Out, 11), 1);
        QCOMPARE(model.rowForSeq(Channel::In, 10), -1);

        // Then both channels interleave by arrival; seqs ascend per channel.
        RecordBatchDecoder decoder(RecordBatchDecoder::Options{false, 160});
        decoder.addRecord(Channel::In, inRecord(0, {{"kind", "stop"}}));
        decoder.addRecord(Channel::Out, textDelta(13, QStringLiteral("c")));
        decoder.addRecord(Channel::In, inRecord(1, {{"kind", "stop"}, {"message", "enough"}}));
        decoder.addRecord(Channel::Out, textDelta(20, QStringLiteral("d")));
        model.appendBatch(decoder.takeBatch());
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(model.rowForSeq(Channel::In, 0), 2);
        QCOMPARE(model.rowForSeq(Channel::In, 1), 4);
        QCOMPARE(model.rowForSeq(Channel::Out, 10), 0);
        QCOMPARE(model.rowForSeq(Channel::Out, 13), 3);
        QCOMPARE(model.rowForSeq(Channel::Out, 20), 5);
        QCOMPARE(model.rowAtOrAfterSeq(Channel::Out, 14), 5);
        QCOMPARE(model.rowAtOrAfterSeq(Channel::In, 2), -1);
        QCOMPARE(cell(model, 4, StreamRecordModel::ChannelColumn), QStringLiteral("in"));
        QCOMPARE(cell(model, 4, StreamRecordModel::TypeColumn), QStringLiteral("stop"));
        QCOMPARE(cell(model, 4, StreamRecordModel::SummaryColumn), QStringLiteral("enough"));

        // The per-channel index follows evictions.
        model.setMaxRecords(3);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.rowForSeq(Channel::Out, 13), 0);
        QCOMPARE(model.rowForSeq(Channel::In, 1), 1);
        QCOMPARE(model.rowForSeq(Channel::Out, 20), 2);
        QCOMPARE(model.rowForSeq(Channel::In, 0), -1);
    }

    void inChannelSummaries()
    {
        const json message = {
            {"kind", "message"},
            {"payload",
             {{"chatId", "c1"},
              {"trigger", "submit-message"},
              {"message", {{"id", "u1"}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", "Hi\nthere"}}}}}},
              {"metadata", {{"appVersion", "2"}}}}},
        };
        StreamRecordModel model;
        model.appendBatch(decodeToBatch(Channel::In, {inRecord(0, message)}));
        QCOMPARE(cell(model, 0, StreamRecordModel::TypeColumn), QStringLiteral("message"));
        QCOMPARE(cell(model, 0, StreamRecordModel::SummaryColumn), QStringLiteral("submit-message: Hi\u21b5there"));
    }

    void undecodableBodiesStayVisible()
    {
        RecordBatchDecoder decoder;
        StreamRecord broken;
        broken.seqNum = 0;
        broken.body = "{\"data\": {\"type\": ";
        decoder.addRecord(Channel::Out, broken);
        decoder.addRecord(Channel::Out, textDelta(1, QStringLiteral("fine")));
        const QList<Error> errors = decoder.takeErrors();
        QCOMPARE(errors.size(), 1);
        QCOMPARE(errors[0].seq, 0);

        StreamRecordModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.appendBatch(decoder.takeBatch());
        QCOMPARE(model.rowCount(), 2);
        QVERIFY(model.data(model.index(0, 0), StreamRecordModel::HasErrorRole).toBool());
        QCOMPARE(cell(model, 0, StreamRecordModel::TypeColumn), QStringLiteral("(invalid)"));
        QVERIFY(cell(model, 0, StreamRecordModel::SummaryColumn).contains(QStringLiteral("not JSON")));
        QCOMPARE(model.data(model.index(0, 0), StreamRecordModel::BodyRole).toByteArray(), broken.body);
        QVERIFY(model.data(model.index(0, 0), Qt::ForegroundRole).isValid());
        QVERIFY(!model.data(model.index(1, 0), StreamRecordModel::HasErrorRole).toBool());
    }

    void malformedSseIsReportedAndSkipped()
    {
        RecordBatchDecoder decoder;
        decoder.feedSse(Channel::Out, sseBatchEvent(textDelta(0, QStringLiteral("a")), 3));
        decoder.feedSse(Channel::Out, "event: batch\ndata: {\"records\": [oops\n\n");
        decoder.feedSse(Channel::Out, "event: error\ndata: storage unavailable\n\n");
        decoder.feedSse(Channel::Out, sseBatchEvent(textDelta(1, QStringLiteral("b")), 3));
        decoder.feedSse(Channel::Out, "event: batch\ndata: {\"records\":[]"); // cut off
        decoder.finishSse(Channel::Out);
        const QList<Error> errors = decoder.takeErrors();
        QVERIFY2(errors.size() >= 3, qPrintable(QString::number(errors.size())));
        QStringList messages;
        for (const Error &e : errors)
            messages.append(e.message);
        QVERIFY2(messages.join(u'\n').contains(QStringLiteral("storage unavailable")), qPrintable(messages.join(u'\n')));
        QCOMPARE(decoder.pendingRecords(), 2);
        QCOMPARE(decoder.takeTail(Channel::Out)->seqNum, 3);
        QVERIFY(!decoder.takeTail(Channel::Out));
    }

    void prettyBodyOffTheUiThread()
    {
        StreamRecordModel model;
        model.appendBatch(fixtureBatch(7));
        QFuture<QString> pretty = model.prettyBodyAsync(3);
        pretty.waitForFinished();
        QVERIFY2(pretty.result().contains(QStringLiteral("\n  \"data\": {\n")), qPrintable(pretty.result()));
        QVERIFY(pretty.result().contains(QStringLiteral("\"delta\": \"Hello\"")));
        const QString control = StreamRecordModel::prettyBody(model.streamRecord(9));
        QVERIFY(control.contains(QStringLiteral("session-in-event-id: 0")));
        QVERIFY2(!control.contains(QStringLiteral(".sig")), "the token leaked");
    }

    void filters()
    {
        StreamRecordModel model;
        StreamRecordFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.appendBatch(fixtureBatch(3));
        QCOMPARE(filter.rowCount(), 22);

        filter.setKindFilter({RecordKind::Control});
        QCOMPARE(filter.rowCount(), 2);
        filter.setKindFilter({RecordKind::Control, RecordKind::Command});
        QCOMPARE(filter.rowCount(), 4);
        filter.setKindFilter({});
        filter.setTypeFilter({QStringLiteral("text-delta")});
        QCOMPARE(filter.rowCount(), 6);
        filter.setTypeFilter({QStringLiteral("text-*"), QStringLiteral("finish")});
        QCOMPARE(filter.rowCount(), 12);
        filter.setTypeFilter({});
        filter.setTextFilter(QStringLiteral("WORLD"));
        QCOMPARE(filter.rowCount(), 2); // the two "world" deltas, case folded
        filter.setTextFilter(QStringLiteral("p13")); // a part id: only in the raw body
        QCOMPARE(filter.rowCount(), 1);
        QCOMPARE(filter.data(filter.index(0, 0), StreamRecordModel::SeqRole).toLongLong(), 13);
        filter.setTextFilter({});
        filter.setChannelFilter(Channel::In);
        QCOMPARE(filter.rowCount(), 0);
        filter.setChannelFilter(Channel::Out);
        QCOMPARE(filter.rowCount(), 22);

        // New batches go through the filter as they arrive.
        filter.setTypeFilter({QStringLiteral("text-delta")});
        QSignalSpy proxyInserted(&filter, &QAbstractItemModel::rowsInserted);
        model.appendBatch(decodeToBatch(Channel::Out, {dataRecord(22, {{"type", "finish-step"}}), textDelta(23, QStringLiteral("z"))}));
        QCOMPARE(proxyInserted.size(), 1);
        QCOMPARE(filter.rowCount(), 7);

        // Jump to seq: exact when visible, else the next visible record.
        filter.setTypeFilter({QStringLiteral("text-delta")});
        QCOMPARE(filter.indexForSeq(Channel::Out, 4).data(StreamRecordModel::SeqRole).toLongLong(), 4);
        QCOMPARE(filter.indexForSeq(Channel::Out, 6).data(StreamRecordModel::SeqRole).toLongLong(), 14);
        QVERIFY(!filter.indexForSeq(Channel::Out, 24).isValid());
        QVERIFY(!filter.indexForSeq(Channel::In, 0).isValid());
    }
};

QTEST_GUILESS_MAIN(TestStreamRecordModel)
#include "tst_streamrecordmodel.moc"
