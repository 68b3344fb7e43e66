// bench "ui-ingest": records flow the way the desktop app moves them, at a
// fixed offered rate, while a probe timer on the UI thread measures how late
// the event loop runs. A producer thread plays the network thread: it frames
// each "read" worth of records as the server sends them (one batch event per
// record), parses them with SseParser + S2BatchDecoder as
// SessionOutSubscription does, and hands them to StreamIngest::feedRecords;
// the ingest worker decodes and posts batches to StreamRecordModel and
// ConversationModel, shown in a StreamInspector (following the tail).
// The stream is realistic turns of 1000 records (start, start-step,
// text-start, text-deltas, text-end, finish-step, finish, turn-complete).
// After the run the process's peak RSS growth is set against the SSE bytes
// of the records the model retains.
// Usage: ui_ingest_bench RATE SECONDS  -> one JSON line with the figures.
#include "bench/benchsupport.h"
#include "models/conversationmodel.h"
#include "models/streamingest.h"
#include "models/streamrecordmodel.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"
#include "ui/streaminspector.h"

#include <QApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

using namespace sessionscope;

namespace {

constexpr qint64 TurnRecords = 1000;
constexpr int ProbeIntervalMs = 5;
constexpr auto ReadInterval = std::chrono::milliseconds(5);

// Record `seq` of a stream of turns, framed into `sse`. `chunk` is scratch.
void appendTurnRecord(QByteArray &sse, QByteArray &chunk, qint64 seq, qint64 timestamp)
{
    const qint64 turn = seq / TurnRecords;
    const qint64 pos = seq % TurnRecords;
    if (pos == TurnRecords - 1) {
        QByteArray inEventId;
        bench::appendNumber(inEventId, turn);
        bench::appendBatchEvent(sse, seq, timestamp, {},
                                {{"trigger-control", "turn-complete"}, {"session-in-event-id", inEventId}});
        return;
    }
    chunk.resize(0);
    chunk.append("{\"data\":");
    if (pos == 0) {
        chunk.append("{\"type\":\"start\",\"messageId\":\"m");
        bench::appendNumber(chunk, turn);
        chunk.append("\"}");
    } else if (pos == 1) {
        chunk.append("{\"type\":\"start-step\"}");
    } else if (pos == 2 || pos == TurnRecords - 4) {
        chunk.append(pos == 2 ? "{\"type\":\"text-start\",\"id\":\"t" : "{\"type\":\"text-end\",\"id\":\"t");
        bench::appendNumber(chunk, turn);
        chunk.append("\"}");
    } else if (pos == TurnRecords - 3) {
        chunk.append("{\"type\":\"finish-step\"}");
    } else if (pos == TurnRecords - 2) {
        chunk.append("{\"type\":\"finish\",\"finishReason\":\"stop\"}");
    } else {
        chunk.append("{\"type\":\"text-delta\",\"id\":\"t");
        bench::appendNumber(chunk, turn);
        chunk.append("\",\"delta\":\"");
        chunk.append(bench::Tokens[seq % qint64(std::size(bench::Tokens))]);
        chunk.append("\"}");
    }
    chunk.append(",\"id\":\"p");
    bench::appendNumber(chunk, seq);
    chunk.append("\"}");
    bench::appendBatchEvent(sse, seq, timestamp, chunk);
}

double percentile(std::vector<double> values, double q)
{
    if (values.empty())
        return 0;
    const size_t k = std::min(values.size() - 1, size_t(q * double(values.size())));
    std::nth_element(values.begin(), values.begin() + std::ptrdiff_t(k), values.end());
    return values[k];
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    const QStringList args = app.arguments();
    const double rate = args.value(1).toDouble();
    const double seconds = args.value(2).toDouble();
    if (args.size() != 3 || rate <= 0 || seconds <= 0) {
        std::fputs("usage: ui_ingest_bench RATE SECONDS\n", stderr);
        return 2;
    }
    const qint64 total = qint64(rate * seconds);

    StreamIngest ingest;
    StreamRecordModel records;
    ConversationModel conversation;
    ingest.setRecordModel(&records);
    ingest.setConversationModel(&conversation);
    qint64 ingestErrors = 0;
    QObject::connect(&ingest, &StreamIngest::errorsOccurred, &app,
                     [&](const QList<Error> &errors) { ingestErrors += errors.size(); });
    QObject::connect(&conversation, &ConversationModel::errorsOccurred, &app,
                     [&](const QList<Error> &errors) { ingestErrors += errors.size(); });
    StreamInspector inspector;
    inspector.setModels(&records, &conversation);
    inspector.resize(1280, 800);
    inspector.show();
    // Settle the first layout and paint before the baseline.
    QElapsedTimer settle;
    settle.start();
    while (settle.elapsed() < 300)
        app.processEvents(QEventLoop::AllEvents, 50);
    const qint64 rssBefore = bench::procStatusBytes("VmRSS");

    std::vector<double> stalls;
    stalls.reserve(size_t(seconds * 1000 / ProbeIntervalMs) + 1000);
    QElapsedTimer probeClock;
    qint64 lastProbeNs = 0;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    probe.setInterval(ProbeIntervalMs);
    QObject::connect(&probe, &QTimer::timeout, &app, [&] {
        const qint64 now = probeClock.nsecsElapsed();
        stalls.push_back(std::max(0.0, double(now - lastProbeNs) / 1e6 - ProbeIntervalMs));
        lastProbeNs = now;
    });

    std::atomic<qint64> sseBytes{0};
    QElapsedTimer clock;
    double absorbedSeconds = 0;
    QObject::connect(&ingest, &StreamIngest::recordBatchReady, &app, [&] {
        if (ingest.recordsDelivered() >= total && absorbedSeconds == 0) {
            absorbedSeconds = double(clock.nsecsElapsed()) / 1e9;
            probe.stop();
            QCoreApplication::quit();
        }
    });
    QTimer::singleShot(int(seconds * 1000) + 60'000, &app, [] {
        std::fputs("ui_ingest_bench: the model did not receive every record within 60 s of the run\n", stderr);
        QCoreApplication::exit(1);
    });

    const bench::ThreadCpu uiBefore = bench::threadCpu();
    clock.start();
    probeClock.start();
    probe.start();
    std::thread network([&] {
        SseParser parser;
        S2BatchDecoder decoder;
        QList<SseEvent> events;
        QByteArray sse;
        QByteArray chunk;
        const qint64 epochMs = QDateTime::currentMSecsSinceEpoch();
        const auto start = std::chrono::steady_clock::now();
        auto next = start;
        for (qint64 sent = 0; sent < total;) {
            next += ReadInterval;
            std::this_thread::sleep_until(next);
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const qint64 due = std::min(total, qint64(elapsed * rate));
            if (due <= sent)
                continue;
            sse.clear();
            for (qint64 seq = sent; seq < due; ++seq)
                appendTurnRecord(sse, chunk, seq, epochMs + seq / 50);
            sseBytes += sse.size();
            events.clear();
            parser.feed(sse, events);
            QList<StreamRecord> batch;
            batch.reserve(due - sent);
            for (const SseEvent &event : events) {
                S2Event decoded = decoder.decode(event);
                for (StreamRecord &r : decoded.records)
                    batch.append(std::move(r));
            }
            ingest.feedRecords(Channel::Out, batch);
            sent = due;
        }
        ingest.flush();
    });
    const int exitCode = app.exec();
    const bench::ThreadCpu uiAfter = bench::threadCpu();
    network.join();
    if (exitCode != 0)
        return exitCode;

    const qint64 peak = bench::procStatusBytes("VmHWM");
    const qint64 rssAfter = bench::procStatusBytes("VmRSS");
    const qint64 rows = records.rowCount();
    if (rows != total || records.lastSeq(Channel::Out) != total - 1 || records.evictedRecords() != 0) {
        std::fprintf(stderr, "ui_ingest_bench: the model holds %lld rows up to seq %lld (%lld evicted), expected %lld\n",
                     rows, records.lastSeq(Channel::Out), records.evictedRecords(), total);
        return 1;
    }
    bench::printFigures({{QStringLiteral("records"), rows},
                         {QStringLiteral("offeredPerSecond"), double(total) / seconds},
                         {QStringLiteral("seconds"), absorbedSeconds},
                         {QStringLiteral("recordsPerSecond"), double(rows) / absorbedSeconds},
                         {QStringLiteral("batches"), ingest.batchesDelivered()},
                         {QStringLiteral("ingestErrors"), ingestErrors},
                         {QStringLiteral("probes"), qint64(stalls.size())},
                         {QStringLiteral("stallP50Ms"), percentile(stalls, 0.50)},
                         {QStringLiteral("stallP99Ms"), percentile(stalls, 0.99)},
                         {QStringLiteral("stallMaxMs"), stalls.empty() ? 0.0 : *std::max_element(stalls.begin(), stalls.end())},
                         {QStringLiteral("uiThreadRunningSeconds"), uiAfter.running - uiBefore.running},
                         {QStringLiteral("uiThreadWaitingSeconds"), uiAfter.waiting - uiBefore.waiting},
                         {QStringLiteral("sseBytes"), sseBytes.load()},
                         {QStringLiteral("rssBefore"), rssBefore},
                         {QStringLiteral("rssPeak"), peak},
                         {QStringLiteral("rssAfter"), rssAfter},
                         {QStringLiteral("peakGrowthRatio"), double(peak - rssBefore) / double(sseBytes.load())},
                         {QStringLiteral("modelRetainedBytes"), records.retainedBytes()}});
    return 0;
}
