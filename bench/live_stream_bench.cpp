// bench "live-stream", sessionscope's side: SessionOutSubscription reads a
// session's `.out` from the start over loopback from a sessionscope-server
// process, and each data record's body is decoded to its chunk (the work the
// peer's SSEStreamSubscription does with JSON.parse). The clock runs from
// start() to the record whose seq is RECORDS - 1.
// Usage: SESSIONSCOPE_SECRET_KEY=KEY live_stream_bench BASE_URL SESSION RECORDS
//   -> one JSON line: {records, lastSeq, chunks, errors, connections, seconds, recordsPerSecond}
#include "bench/benchsupport.h"
#include "net/chunkbody.h"
#include "net/sessionoutsubscription.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <cstdio>

using namespace sessionscope;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    bench::KeyedArguments in;
    if (!bench::keyedArguments(app.arguments(), "live_stream_bench BASE_URL SESSION RECORDS", in))
        return 2;
    const qint64 expected = in.count;
    ConnectionProfile profile = ConnectionProfile::selfHosted(QStringLiteral("bench"), QUrl(in.args.at(1)));
    profile.secretKey = in.key;
    SessionOutSubscription subscription(profile, in.args.at(2));
    SessionOutSubscription::Options options;
    options.timeoutSeconds = 600;
    options.peekSettled = false;
    subscription.setOptions(options);

    qint64 records = 0;
    qint64 chunks = 0;
    qint64 errors = 0;
    double seconds = 0;
    QElapsedTimer clock;
    QObject::connect(&subscription, &SessionOutSubscription::recordsReceived, &app,
                     [&](const QList<StreamRecord> &batch) {
                         for (const StreamRecord &record : batch) {
                             ++records;
                             if (record.kind != RecordKind::Data)
                                 continue;
                             if (decodeBody(record))
                                 ++chunks;
                             else
                                 ++errors;
                         }
                         if (subscription.lastSeq() >= expected - 1 && seconds == 0) {
                             seconds = double(clock.nsecsElapsed()) / 1e9;
                             subscription.stop();
                             QCoreApplication::quit();
                         }
                     });
    QObject::connect(&subscription, &SessionOutSubscription::streamError, &app,
                     [&](const Error &) { ++errors; });
    QObject::connect(&subscription, &SessionOutSubscription::failed, &app, [&](const Error &e) {
        std::fprintf(stderr, "live_stream_bench: %s\n", qPrintable(e.message));
        QCoreApplication::exit(1);
    });
    // Bounded: a stream that never completes is a failure, not a hang.
    QTimer::singleShot(300'000, &app, [] {
        std::fputs("live_stream_bench: gave up after 300 s\n", stderr);
        QCoreApplication::exit(1);
    });
    clock.start();
    subscription.start(-1);
    if (app.exec() != 0 || seconds == 0)
        return 1;
    bench::printFigures({{QStringLiteral("records"), records},
                         {QStringLiteral("lastSeq"), subscription.lastSeq()},
                         {QStringLiteral("chunks"), chunks},
                         {QStringLiteral("errors"), errors},
                         {QStringLiteral("connections"), subscription.connectionCount()},
                         {QStringLiteral("seconds"), seconds},
                         {QStringLiteral("recordsPerSecond"), double(records) / seconds}});
    return 0;
}
