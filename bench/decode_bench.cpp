// bench "decode": bytes of an S2 `.out` capture -> records with decoded chunks,
// the same work as the peer (bench/peer/decode.mjs): SSE framing
// (SseParser::feedViews), the batch JSON (S2BatchDecoder, into one reused
// S2Event) and each data record's body (decodeChunk: validated in full, the
// chunk indexed, its type and part id read). Reads the file in 64 KiB chunks
// like the peer. Also runs a plain scan for blank lines over the same bytes,
// the ceiling any SSE decoder is held against.
// Usage: decode_bench CAPTURE [REPEATS] -> one JSON line with the figures.
#include "net/chunkbody.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <QElapsedTimer>
#include <QFile>

#include <cstdio>
#include <cstring>
#include <ctime>

using namespace sessionscope;

namespace {

struct DecodeFigures
{
    qint64 records = 0;
    qint64 chunks = 0;
    qint64 errors = 0;
    qint64 bytes = 0;
    double seconds = 0;
    double cpuSeconds = 0; // the process's CPU time over the same span
};

// CPU time of the whole process (as the peer reports it: process.cpuUsage()).
// On a loaded machine it says what the work cost, where wall time also says
// how much of a core the scheduler handed out.
double processCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// The streaming path the app takes: events viewed in place, one S2Event
// reused, each data record's chunk decoded and validated in full.
DecodeFigures decodeFile(const QString &path)
{
    DecodeFigures f;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return f;
    SseParser parser;
    S2BatchDecoder decoder;
    S2Event event;
    QByteArray buffer(64 * 1024, Qt::Uninitialized);
    const auto onEvent = [&](const SseEventView &view) {
        decoder.decode(view, event);
        f.errors += event.errors.size();
        for (const StreamRecord &record : std::as_const(event.records)) {
            ++f.records;
            if (record.kind != RecordKind::Data)
                continue;
            if (decodeChunk(record))
                ++f.chunks;
            else
                ++f.errors;
        }
    };
    const double cpuStart = processCpuSeconds();
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n <= 0)
            break;
        f.bytes += n;
        parser.feedViews(QByteArrayView(buffer.constData(), n), onEvent);
    }
    f.seconds = double(timer.nsecsElapsed()) / 1e9;
    f.cpuSeconds = processCpuSeconds() - cpuStart;
    return f;
}

// memchr for '\n' and a check for a second one: finding event boundaries and
// nothing else.
double scanSeconds(const QString &path, qint64 &events)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    QByteArray buffer(64 * 1024, Qt::Uninitialized);
    QElapsedTimer timer;
    timer.start();
    char previous = 0;
    events = 0;
    for (;;) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n <= 0)
            break;
        const char *p = buffer.constData();
        const char *end = p + n;
        while (p < end) {
            const char *nl = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)));
            if (!nl)
                break;
            const char before = nl == buffer.constData() ? previous : nl[-1];
            if (before == '\n')
                ++events;
            p = nl + 1;
        }
        previous = end[-1];
    }
    return double(timer.nsecsElapsed()) / 1e9;
}

} // namespace

int main(int argc, char *argv[])
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: decode_bench CAPTURE [REPEATS]\n");
        return 2;
    }
    const QString path = QString::fromLocal8Bit(argv[1]);
    const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    if (!QFile::exists(path)) {
        std::fprintf(stderr, "decode_bench: no such file: %s\n", argv[1]);
        return 2;
    }
    // Best of N for both, so a noisy neighbour costs a run, not the verdict.
    DecodeFigures best;
    for (int i = 0; i < repeats; ++i) {
        const DecodeFigures f = decodeFile(path);
        if (i == 0 || f.seconds < best.seconds)
            best = f;
    }
    double bestScan = 0;
    qint64 scannedEvents = 0;
    for (int i = 0; i < repeats; ++i) {
        const double s = scanSeconds(path, scannedEvents);
        if (i == 0 || s < bestScan)
            bestScan = s;
    }
    std::printf("{\"records\":%lld,\"chunks\":%lld,\"errors\":%lld,\"bytes\":%lld,"
                "\"seconds\":%.6f,\"recordsPerSecond\":%.1f,\"cpuSeconds\":%.6f,"
                "\"scanSeconds\":%.6f,\"scanEvents\":%lld,\"scanRecordsPerSecond\":%.1f}\n",
                static_cast<long long>(best.records), static_cast<long long>(best.chunks),
                static_cast<long long>(best.errors), static_cast<long long>(best.bytes),
                best.seconds, best.records / best.seconds, best.cpuSeconds, bestScan,
                static_cast<long long>(scannedEvents), best.records / bestScan);
    return best.errors == 0 ? 0 : 1;
}
