#include "models/recordbatchdecoder.h"
#include "models/streamrecordmodel.h"

#include "modeltestsupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace {

// VmRSS of this process in bytes, from /proc (Linux, where CI runs).
qint64 residentBytes()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong() * 1024;
    }
    return -1;
}

// Token-sized deltas like a model streams them.
const char *const Tokens[] = {"Hello", ",", " world", " the", " quick", " brown", " fox", " jumps", " over",
                              " lazy", " dog", ".", "\\\\n", " It", "'s", " a", " test", " of", " memory", " use"};

} // namespace

class TestStreamRecordMemory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void frameMatchesTheFixture()
    {
        QByteArray sse;
        appendTextDeltaEvent(sse, 3, 1763700000021, 0, Tokens[3]);
        RecordBatchDecoder decoder;
        decoder.feedSse(Channel::Out, sse);
        QVERIFY(decoder.takeErrors().isEmpty());
        const RecordBatch batch = decoder.takeBatch();
        QCOMPARE(batch.size(), 1);
        QCOMPARE(batch.body(batch.records[0]).toByteArray(),
                 QByteArray("{\"data\":{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\" the\"},\"id\":\"p3\"}"));
        QCOMPARE(batch.summary(batch.records[0]).toByteArray(), QByteArray(" the"));
    }

    // A million text-delta records, decoded from their SSE bytes the way the
    // ingest worker does, held within 1.5x those bytes. (A tenth of that in
    // the sanitizer build, where it would take minutes.)
    void millionRecordsWithinBudget()
    {
        constexpr qint64 Records = SanitizedBuild ? 100'000 : 1'000'000;
        constexpr qint64 PerBatch = 10'000;
        const qint64 rssBefore = residentBytes();
        QElapsedTimer clock;
        clock.start();

        StreamRecordModel model;
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        RecordBatchDecoder decoder(RecordBatchDecoder::Options{false, 160});
        qint64 sseBytes = 0;
        qint64 wireBytes = 0;
        QByteArray sse;
        for (qint64 first = 0; first < Records; first += PerBatch) {
            sse.clear();
            for (qint64 seq = first; seq < first + PerBatch; ++seq)
                appendTextDeltaEvent(sse, seq, 1763700000000 + seq * 20, seq / 500, Tokens[seq % std::size(Tokens)]);
            sseBytes += sse.size();
            decoder.feedSse(Channel::Out, sse);
            const RecordBatch batch = decoder.takeBatch();
            QCOMPARE(batch.size(), PerBatch);
            wireBytes += batch.wireBytes;
            model.appendBatch(batch);
        }
        sse = QByteArray();
        QVERIFY(decoder.takeErrors().isEmpty());
        const qint64 elapsed = clock.elapsed();
        const qint64 rssAfter = residentBytes();

        QCOMPARE(model.rowCount(), int(Records));
        QCOMPARE(inserted.size(), int(Records / PerBatch));
        QCOMPARE(model.evictedRecords(), 0);
        QCOMPARE(model.record(int(Records) - 1).seq, Records - 1);
        QCOMPARE(model.data(model.index(int(Records) - 1, StreamRecordModel::SummaryColumn)).toString(),
                 QString::fromLatin1(Tokens[(Records - 1) % std::size(Tokens)]));
        QCOMPARE(model.rowForSeq(Channel::Out, Records * 3 / 4 + 7), int(Records * 3 / 4 + 7));

        const qint64 retained = model.retainedBytes();
        const qint64 rssGrowth = rssAfter - rssBefore;
        qInfo("records: %lld; SSE bytes: %lld (%.1f per record); bodies+headers: %lld", Records, sseBytes,
              double(sseBytes) / double(Records), wireBytes);
        qInfo("retainedBytes: %lld = %.3fx SSE bytes, %.3fx body bytes (%.1f per record)", retained,
              double(retained) / double(sseBytes), double(retained) / double(wireBytes), double(retained) / double(Records));
        qInfo("VmRSS growth: %lld bytes = %.3fx SSE bytes (%lld -> %lld); %lld ms", rssGrowth,
              double(rssGrowth) / double(sseBytes), rssBefore, rssAfter, elapsed);

        QVERIFY2(retained <= sseBytes * 3 / 2,
                 qPrintable(QStringLiteral("retained %1 > 1.5 x %2").arg(retained).arg(sseBytes)));
        if (!SanitizedBuild) { // ASan's shadow memory and quarantine are not the model's
            QVERIFY2(rssBefore > 0 && rssAfter > 0, "VmRSS not readable");
            QVERIFY2(rssGrowth <= sseBytes * 3 / 2,
                     qPrintable(QStringLiteral("RSS grew %1 > 1.5 x %2").arg(rssGrowth).arg(sseBytes)));
        }

        // Evicting under a smaller cap gives memory back.
        model.setMaxRecords(Records / 10);
        QCOMPARE(model.rowCount(), int(Records / 10));
        QVERIFY2(model.retainedBytes() < retained / 2,
                 qPrintable(QStringLiteral("%1 after eviction").arg(model.retainedBytes())));
    }
};

QTEST_GUILESS_MAIN(TestStreamRecordMemory)
#include "tst_streamrecordmemory.moc"
