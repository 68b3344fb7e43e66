// bench "decode": bytes of an S2 `.out` capture -> records with decoded chunks,
// the same work as the peer (bench/peer/decode.mjs): SSE framing, the batch
// JSON, and each data record's body. Reads the file in 64 KiB chunks like the
// peer. Also runs a plain scan for blank lines over the same bytes, the
// ceiling any SSE decoder is held against.
// Usage: decode_bench CAPTURE [REPEATS] -> one JSON line with the figures.
#include "net/chunkbody.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <QElapsedTimer>
#include <QFile>

#include <cstdio>
#include <cstring>

using namespace sessionscope;

namespace {

struct DecodeFigures
{
    qint64 records = 0;
    qint64 chunks = 0;
    qint64 errors = 0;
    qint64 bytes = 0;
    double seconds = 0;
};

DecodeFigures decodeFile(const QString &path)
{
    DecodeFigures f;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return f;
    SseParser parser;
    S2BatchDecoder decoder;
    QList<SseEvent> events;
    QByteArray buffer(64 * 1024, Qt::Uninitialized);
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        const qint64 n = file.read(buffer.data(), buffer.size());
        if (n <= 0)
            break;
        f.bytes += n;
        events.clear();
        parser.feed(QByteArrayView(buffer.constData(), n), events);
        for (const SseEvent &event : events) {
            const S2Event decoded = decoder.decode(event);
            f.errors += decoded.errors.size();
            for (const StreamRecord &record : decoded.records) {
                ++f.records;
                if (record.kind != RecordKind::Data)
                    continue;
                if (decodeBody(record))
                    ++f.chunks;
                else
                    ++f.errors;
            }
        }
    }
    f.seconds = double(timer.nsecsElapsed()) / 1e9;
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
                "\"seconds\":%.6f,\"recordsPerSecond\":%.1f,"
                "\"scanSeconds\":%.6f,\"scanEvents\":%lld,\"scanRecordsPerSecond\":%.1f}\n",
                static_cast<long long>(best.records), static_cast<long long>(best.chunks),
                static_cast<long long>(best.errors), static_cast<long long>(best.bytes),
                best.seconds, best.records / best.seconds, bestScan,
                static_cast<long long>(scannedEvents), best.records / bestScan);
    return best.errors == 0 ? 0 : 1;
}
