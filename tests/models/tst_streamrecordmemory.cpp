#include "models/recordbatchdecoder.h"
#include "models/streamrecordmodel.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;

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

// One text-delta record as one `event: batch`, framed exactly like
// two-turns.sse (its body a JSON string inside the batch JSON).
void appendEvent(QByteArray &out, qint64 seq, qint64 timestamp)
{
    // The body as a JSON string inside the batch JSON: its quotes escaped.
    const QByteArray body = QByteArrayLiteral("{\\\"data\\\":{\\\"type\\\":\\\"text-delta\\\",\\\"id\\\":\\\"t")
                            + QByteArray::number(seq / 500) + QByteArrayLiteral("\\\",\\\"delta\\\":\\\"")
                            + Tokens[seq % std::size(Tokens)] + QByteArrayLiteral("\\\"},\\\"id\\\":\\\"p")
                            + QByteArray::number(seq) + QByteArrayLiteral("\\\"}");
    const QByteArray s = QByteArray::number(seq);
    const QByteArray ts = QByteArray::number(timestamp);
    out += "id: " + s + ',' + QByteArray::number(seq + 1) + ',' + QByteArray::number(seq * 100) + "\n";
    out += "event: batch\n";
    out += "data: {\"records\":[{\"seq_num\":" + s + ",\"timestamp\":" + ts + ",\"body\":\"" + body
           + "\",\"headers\":[]}],\"tail\":{\"seq_num\":" + QByteArray::number(seq + 1) + ",\"timestamp\":" + ts
           + "}}\n\n";
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool Sanitized = true;
#else
constexpr bool Sanitized = false;
#endif

} // namespace

class TestStreamRecordMemory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void frameMatchesTheFixture()
    {
        QByteArray sse;
        appendEvent(sse, 3, 1763700000021);
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
    // ingest worker does, held within 1.5x those bytes.
    void millionRecordsWithinBudget()
    {
        constexpr qint64 Records = 1'000'000;
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
                appendEvent(sse, seq, 1763700000000 + seq * 20);
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
        QCOMPARE(model.data(model.index(999'999, StreamRecordModel::SummaryColumn)).toString(),
                 QString::fromLatin1(Tokens[999'999 % std::size(Tokens)]));
        QCOMPARE(model.rowForSeq(Channel::Out, 765'432), 765'432);

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
        if (!Sanitized) { // ASan's shadow memory and quarantine are not the model's
            QVERIFY2(rssBefore > 0 && rssAfter > 0, "VmRSS not readable");
            QVERIFY2(rssGrowth <= sseBytes * 3 / 2,
                     qPrintable(QStringLiteral("RSS grew %1 > 1.5 x %2").arg(rssGrowth).arg(sseBytes)));
        }

        // Evicting under a smaller cap gives memory back.
        model.setMaxRecords(100'000);
        QCOMPARE(model.rowCount(), 100'000);
        QVERIFY2(model.retainedBytes() < retained / 2,
                 qPrintable(QStringLiteral("%1 after eviction").arg(model.retainedBytes())));
    }
};

QTEST_GUILESS_MAIN(TestStreamRecordMemory)
#include "tst_streamrecordmemory.moc"
