// Writes the `.out` stream that bench "live-stream" reads: RECORDS text-delta
// records into one session, through the server's own StreamStore in this
// process (as tests/net/tst_sessionoutsubscription.cpp does), because that
// many appends over HTTP would take most of the time budget. The records are
// then served by a separate sessionscope-server process on the same data dir.
// Usage: SESSIONSCOPE_SECRET_KEY=KEY stream_seed DATA_DIR EXTERNAL_ID RECORDS
//   -> one JSON line: {records, lastSeq, bodyBytes, seconds}
#include "bench/benchsupport.h"
#include "server/serverconfig.h"
#include "server/sessionserver.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"

#include <QCoreApplication>
#include <QElapsedTimer>

#include <cstdio>

using namespace sessionscope;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    bench::KeyedArguments in;
    if (!bench::keyedArguments(app.arguments(), "stream_seed DATA_DIR EXTERNAL_ID RECORDS", in))
        return 2;
    const qint64 records = in.count;
    ServerConfig config;
    config.dataDir = in.args.at(1);
    config.secretKey = in.key;
    config.agentRuntime = false;
    SessionServer server(config);
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "stream_seed: %s\n", qPrintable(started.error().message));
        return 1;
    }
    CreateSessionParams params;
    params.type = QStringLiteral("chat.agent");
    params.taskIdentifier = QStringLiteral("bench-agent");
    params.externalId = in.args.at(2);
    auto created = server.sessions().createSession(params);
    if (!created) {
        std::fprintf(stderr, "stream_seed: %s\n", qPrintable(created.error().message));
        return 1;
    }
    const QString key = created->session.addressingKey();

    QElapsedTimer clock;
    clock.start();
    constexpr qint64 PerCommit = 10'000;
    qint64 committed = 0;
    qint64 lastSeq = -1;
    qint64 bodyBytes = 0;
    QString failure;
    for (qint64 first = 0; first < records && failure.isEmpty(); first += PerCommit) {
        for (qint64 seq = first; seq < qMin(records, first + PerCommit); ++seq) {
            AppendRecord record;
            record.body = bench::textDeltaBody(seq);
            bodyBytes += record.body.size();
            server.streams().append(key, Channel::Out, std::move(record),
                                    [&](const Result<AppendOutcome> &r) {
                                        if (!r) {
                                            failure = r.error().message;
                                            return;
                                        }
                                        ++committed;
                                        lastSeq = qMax(lastSeq, r->seq);
                                    });
        }
        server.streams().flush();
    }
    const double seconds = double(clock.nsecsElapsed()) / 1e9;
    server.stop();
    if (!failure.isEmpty() || committed != records) {
        std::fprintf(stderr, "stream_seed: %lld of %lld records committed: %s\n", committed, records,
                     qPrintable(failure));
        return 1;
    }
    bench::printFigures({{QStringLiteral("records"), committed},
                         {QStringLiteral("lastSeq"), lastSeq},
                         {QStringLiteral("bodyBytes"), bodyBytes},
                         {QStringLiteral("seconds"), seconds}});
    return 0;
}
