#include "models/conversationmodel.h"
#include "models/streamingest.h"
#include "models/streamrecordfiltermodel.h"
#include "models/streamrecordmodel.h"

#include "modeltestsupport.h"
#include "netfixtures.h"

#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>

using namespace sessionscope;
using namespace sessionscope::testing;

namespace {

bool flushAndWait(StreamIngest &ingest)
{
    QSignalSpy flushed(&ingest, &StreamIngest::flushed);
    ingest.flush();
    return flushed.wait(20000);
}

QList<StreamRecord> deltas(qint64 firstSeq, int count)
{
    QList<StreamRecord> out;
    for (int i = 0; i < count; ++i)
        out.append(textDelta(firstSeq + i, QStringLiteral("d%1").arg(firstSeq + i)));
    return out;
}

} // namespace

class TestStreamIngest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixtureThroughTheWorker()
    {
        StreamRecordModel records;
        ConversationModel conversation;
        QAbstractItemModelTester recordTester(&records, QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester conversationTester(&conversation, QAbstractItemModelTester::FailureReportingMode::Fatal);
        StreamIngest ingest;
        ingest.setRecordModel(&records);
        ingest.setConversationModel(&conversation);
        QSignalSpy tails(&ingest, &StreamIngest::tailChanged);
        QSignalSpy errors(&ingest, &StreamIngest::errorsOccurred);

        const QByteArray sse = readFixture(QStringLiteral("two-turns.sse"));
        for (qsizetype at = 0; at < sse.size(); at += 37)
            ingest.feedSse(Channel::Out, sse.mid(at, 37));
        ingest.finishSse(Channel::Out);
        QVERIFY(flushAndWait(ingest));

        QCOMPARE(records.rowCount(), 22);
        QCOMPARE(ingest.recordsDelivered(), 22);
        QVERIFY(errors.isEmpty());
        QVERIFY(!tails.isEmpty());
        QCOMPARE(tails.last()[0].value<Channel>(), Channel::Out);
        QCOMPARE(tails.last()[1].value<StreamTail>().seqNum, 22);

        QCOMPARE(conversation.messages().size(), 2);
        QCOMPARE(conversation.messages()[0].text(), QStringLiteral("Hello, world"));
        QCOMPARE(conversation.messages()[1].text(), QStringLiteral("Hello, world"));
        QCOMPARE(conversation.rowCount(), 4); // message, turn-complete, message, turn-complete
        QCOMPARE(conversation.index(1, 0).data(ConversationModel::EntryKindNameRole).toString(),
                 QStringLiteral("turn-complete"));
    }

    void coalescesSmallFeeds()
    {
        StreamIngest::Options options;
        options.flushInterval = std::chrono::seconds(30); // only flush() delivers
        StreamRecordModel records;
        StreamIngest ingest(options);
        ingest.setRecordModel(&records);
        QSignalSpy inserted(&records, &QAbstractItemModel::rowsInserted);
        // 400 network reads of 25 records each become one insertion.
        QList<QList<StreamRecord>> reads;
        for (int i = 0; i < 400; ++i)
            reads.append(deltas(i * 25, 25));
        for (const QList<StreamRecord> &read : std::as_const(reads))
            ingest.feedRecords(Channel::Out, read);
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 10000);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(ingest.batchesDelivered(), 1);
        for (int row = 0; row < records.rowCount(); ++row)
            QCOMPARE(records.record(row).seq, row);
    }

    void bigBacklogsGoInCappedBatches()
    {
        StreamIngest::Options options;
        options.flushInterval = std::chrono::seconds(30); // only the size limit can deliver
        options.maxBatchRecords = 1000;
        StreamRecordModel records;
        StreamIngest ingest(options);
        ingest.setRecordModel(&records);
        QSignalSpy inserted(&records, &QAbstractItemModel::rowsInserted);
        for (int i = 0; i < 11; ++i)
            ingest.feedRecords(Channel::Out, deltas(i * 500, 500));
        QTRY_COMPARE_WITH_TIMEOUT(records.rowCount(), 5000, 20000);
        QCOMPARE(inserted.size(), 5);
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 5500);
        QCOMPARE(inserted.size(), 6);
    }

    void bigRecordsGoInByteCappedBatches()
    {
        StreamIngest::Options options;
        options.flushInterval = std::chrono::seconds(30);
        options.maxBatchBytes = 100'000;
        StreamRecordModel records;
        StreamIngest ingest(options);
        ingest.setRecordModel(&records);
        QSignalSpy batches(&ingest, &StreamIngest::recordBatchReady);
        const QString text(30'000, QLatin1Char('x'));
        for (int i = 0; i < 10; ++i)
            ingest.feedRecords(Channel::Out, {textDelta(i, text)});
        // Every fourth record fills a batch past 100 kB: two batches without a flush.
        QTRY_COMPARE_WITH_TIMEOUT(records.rowCount(), 8, 20000);
        QCOMPARE(batches.size(), 2);
        for (const auto &args : batches)
            QVERIFY(args[0].value<RecordBatch>().bytes.size() >= 100'000);
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 10);
    }

    void resetDropsWhatWasInFlight()
    {
        StreamRecordModel records;
        ConversationModel conversation;
        StreamIngest ingest;
        ingest.setRecordModel(&records);
        ingest.setConversationModel(&conversation);
        ingest.feedRecords(Channel::Out, deltas(0, 100));
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 100);

        // Posted, maybe already decoded, but not yet delivered: gone with the reset.
        ingest.feedRecords(Channel::Out, deltas(100, 100));
        ingest.reset();
        QCOMPARE(records.rowCount(), 0);
        // A new stream may start over at seq 0.
        ingest.feedRecords(Channel::Out, deltas(0, 10));
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 10);
        QCOMPARE(records.record(9).seq, 9);
    }

    void badInputIsReportedNotFatal()
    {
        StreamRecordModel records;
        StreamIngest ingest;
        ingest.setRecordModel(&records);
        QSignalSpy errors(&ingest, &StreamIngest::errorsOccurred);
        ingest.feedSse(Channel::Out, sseBatchEvent(textDelta(0, QStringLiteral("a")), 3));
        ingest.feedSse(Channel::Out, "event: batch\ndata: {\"records\":[{\"seq_num\": \"x\"}]}\n\n");
        ingest.feedSse(Channel::Out, "event: batch\ndata: not json at all\n\n");
        ingest.feedSse(Channel::Out, sseBatchEvent(textDelta(1, QStringLiteral("b")), 3));
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 2);
        QVERIFY(!errors.isEmpty());
    }

    void feedsFromAnotherThread()
    {
        StreamRecordModel records;
        StreamIngest ingest;
        ingest.setRecordModel(&records);
        std::unique_ptr<QThread> producer(QThread::create([&ingest] {
            for (int i = 0; i < 50; ++i)
                ingest.feedRecords(Channel::Out, deltas(i * 20, 20));
        }));
        producer->start();
        QVERIFY(producer->wait(20000));
        QVERIFY(flushAndWait(ingest));
        QCOMPARE(records.rowCount(), 1000);
    }

    // 50,000 records/s of SSE into the inspector (record model, a filter and
    // the conversation) for two seconds. The event loop's longest gap is
    // measured and reported; the pass/fail checks are structural (every
    // record arrives, in a bounded number of insertions), the timing target
    // itself belongs to bench/.
    void fiftyThousandRecordsPerSecond()
    {
        constexpr int RatePerSecond = 50'000;
        constexpr int Seconds = SanitizedBuild ? 1 : 2;
        constexpr int TickMs = 10;
        constexpr int PerTick = RatePerSecond * TickMs / 1000;
        constexpr int Total = RatePerSecond * Seconds;

        StreamRecordModel records;
        StreamRecordFilterModel filter;
        filter.setSourceModel(&records);
        filter.setTypeFilter({QStringLiteral("text-delta")});
        ConversationModel conversation;
        StreamIngest ingest;
        ingest.setRecordModel(&records);
        ingest.setConversationModel(&conversation);
        QSignalSpy inserted(&records, &QAbstractItemModel::rowsInserted);

        // The UI thread's heartbeat.
        QElapsedTimer sinceBeat;
        qint64 longestGap = 0;
        QTimer heartbeat;
        heartbeat.setInterval(5);
        connect(&heartbeat, &QTimer::timeout, this, [&] {
            longestGap = qMax(longestGap, sinceBeat.restart());
        });

        // The bytes are made up front: the producer only has to keep the pace.
        static const char *const Words[] = {" alpha", " beta", " gamma", " delta", " epsilon"};
        QByteArray opening = sseBatchEvent(dataRecord(0, {{"type", "start"}, {"messageId", "m1"}}), Total + 2)
                             + sseBatchEvent(dataRecord(1, {{"type", "text-start"}, {"id", "t0"}}), Total + 2);
        QList<QByteArray> ticks;
        for (int tick = 0; tick * PerTick < Total; ++tick) {
            QByteArray sse;
            for (int i = 0; i < PerTick; ++i) {
                const qint64 seq = 2 + qint64(tick) * PerTick + i;
                appendTextDeltaEvent(sse, seq, 1763700000000 + seq, 0, Words[seq % std::size(Words)]);
            }
            ticks.append(sse);
        }

        std::atomic<bool> producing{true};
        std::unique_ptr<QThread> producer(QThread::create([&] {
            QElapsedTimer clock;
            clock.start();
            ingest.feedSse(Channel::Out, opening);
            for (int tick = 0; tick < ticks.size(); ++tick) {
                ingest.feedSse(Channel::Out, ticks[tick]);
                const qint64 due = qint64(tick + 1) * TickMs;
                if (clock.elapsed() < due)
                    QThread::msleep(quint64(due - clock.elapsed()));
            }
            producing = false;
        }));

        sinceBeat.start();
        heartbeat.start();
        QElapsedTimer wall;
        wall.start();
        producer->start();
        QTRY_VERIFY_WITH_TIMEOUT(!producing, 60000);
        QVERIFY(producer->wait(10000));
        QVERIFY(flushAndWait(ingest));
        heartbeat.stop();
        const qint64 elapsed = wall.elapsed();

        QCOMPARE(records.rowCount(), Total + 2);
        QCOMPARE(filter.rowCount(), Total);
        QCOMPARE(conversation.messages().size(), 1);
        QCOMPARE(conversation.messages()[0].parts.size(), 1);
        QVERIFY(conversation.messages()[0].text().endsWith(QLatin1String(Words[(Total + 1) % std::size(Words)])));
        // One insertion per flush interval at most, plus the final flush.
        const qint64 bound = elapsed / ingest.options().flushInterval.count() + 2;
        QVERIFY2(inserted.size() <= bound, qPrintable(QStringLiteral("%1 insertions in %2 ms").arg(inserted.size()).arg(elapsed)));
        qInfo("%d records in %lld ms through %lld insertions; longest event-loop gap %lld ms", Total + 2, elapsed,
              qint64(inserted.size()), longestGap);
    }
};

QTEST_GUILESS_MAIN(TestStreamIngest)
#include "tst_streamingest.moc"
