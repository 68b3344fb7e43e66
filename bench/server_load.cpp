// bench "server": load on a sessionscope-server process over loopback. Each
// mode creates its own session and prints one JSON line.
//
//   appends  CLIENTS SECONDS            keep-alive clients POST .../out/append
//                                       with X-Part-Id as fast as answers come
//   delivery SUBSCRIBERS CLIENTS SECONDS  the same appends while SUBSCRIBERS
//                                       follow the session over SSE; records/s
//                                       delivered to all of them together
//   fanout   SUBSCRIBERS RATE SECONDS [SERVER_PID]
//                                       RATE appends/s (paced) to a session
//                                       followed by SUBSCRIBERS; latency from
//                                       each append's acknowledgement to each
//                                       subscriber's receipt of that record;
//                                       with the server's pid, its main
//                                       thread's CPU time and CPU wait too
//
// Every subscriber must receive every record once and in order, or the mode
// fails. Usage: SESSIONSCOPE_SECRET_KEY=KEY server_load PORT MODE ARGS...
#include "bench/benchsupport.h"
#include "bench/loadclient.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonObject>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <unistd.h>

using namespace sessionscope;
using namespace sessionscope::bench;

namespace {

constexpr int64_t CatchUpTimeoutUs = 60'000'000;
// Appends in flight at once. Pacing sets the rate; this only has to cover
// rate x acknowledgement latency so a slow acknowledgement does not lower the
// offered rate (128 in flight allow 128 ms at 1,000/s).
constexpr int FanoutAppenders = 128;

struct Percentiles
{
    double p50 = 0, p99 = 0, max = 0;
};

// Of microsecond samples, in milliseconds. Reorders `samples`.
Percentiles percentiles(std::vector<int32_t> &samples)
{
    Percentiles p;
    if (samples.empty())
        return p;
    auto at = [&](double q) {
        const size_t k = std::min(samples.size() - 1, size_t(q * double(samples.size())));
        std::nth_element(samples.begin(), samples.begin() + std::ptrdiff_t(k), samples.end());
        return double(samples[k]) / 1000.0;
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.max = double(*std::max_element(samples.begin(), samples.end())) / 1000.0;
    return p;
}

std::string chunkJson(int64_t n)
{
    return "{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"" + std::string(Tokens[n % int64_t(std::size(Tokens))])
           + "\"}";
}

// A fresh session for one mode.
std::string createSession(Target &target, const std::string &mode)
{
    const std::string externalId = "bench-" + mode + "-" + std::to_string(::getpid());
    const SimpleResponse r =
        simpleRequest(target, "POST", "/api/v1/sessions",
                      "{\"type\":\"chat.agent\",\"externalId\":\"" + externalId
                          + "\",\"taskIdentifier\":\"bench-agent\",\"triggerConfig\":{\"basePayload\":{}}}");
    if (!r.error.empty())
        return r.error;
    if (r.status != 200 && r.status != 201)
        return "creating the session answered " + std::to_string(r.status) + ": " + r.body;
    target.session = externalId;
    return {};
}

struct WriterResult
{
    std::string error;
    int64_t acks = 0;
    int64_t firstSentUs = 0;
    int64_t lastAckUs = 0;
    int64_t maxSeq = -1;
    std::vector<int32_t> ackLatencyUs; // sent -> acknowledged, per append
};

// Appends on `clients` keep-alive connections for `seconds`: paced at `rate`
// per second (at most `total`), or (rate 0) as fast as answers come. A server
// that cannot keep up gets fewer records, not more time. onAck(seq, sentUs,
// ackUs) for each.
WriterResult runWriter(const Target &target, int clients, double rate, double seconds, int64_t total,
                       const std::function<void(int64_t, int64_t, int64_t)> &onAck)
{
    WriterResult result;
    LoadLoop loop;
    int64_t sent = 0;
    const int64_t start = nowUs();
    result.firstSentUs = start;
    result.error = loop.openAppenders(target, clients, [&](int, int64_t seq, int64_t sentUs, int64_t ackUs) {
        ++result.acks;
        result.lastAckUs = ackUs;
        result.maxSeq = std::max(result.maxSeq, seq);
        result.ackLatencyUs.push_back(int32_t(ackUs - sentUs));
        if (onAck)
            onAck(seq, sentUs, ackUs);
    });
    if (!result.error.empty())
        return result;
    const int64_t end = start + int64_t(seconds * 1e6);
    const std::string tag = std::to_string(::getpid()) + "-";
    for (;;) {
        const int64_t now = nowUs();
        const bool paced = rate > 0;
        const bool more = now < end && (!paced || sent < total);
        if (!more && result.acks == sent)
            break;
        if (now > end + CatchUpTimeoutUs) {
            result.error = "appends unanswered after the run";
            return result;
        }
        int64_t due = paced ? std::min<int64_t>(total, int64_t(double(now - start) * rate / 1e6) + 1) : INT64_MAX;
        for (int c = 0; c < clients && more && sent < due; ++c) {
            if (!loop.appenderIdle(c))
                continue;
            loop.append(c, "w" + tag + std::to_string(sent), chunkJson(sent));
            ++sent;
            if (!paced)
                due = INT64_MAX;
        }
        int64_t wait = 1000;
        if (paced && sent < total)
            wait = std::max<int64_t>(0, start + int64_t(double(sent) * 1e6 / rate) - nowUs());
        if (std::string e = loop.poll(std::min<int64_t>(wait, 1000)); !e.empty()) {
            result.error = e;
            return result;
        }
    }
    return result;
}

// The server's main thread (where it does all its work): time on a CPU and
// time runnable but waiting for one, from /proc/PID/schedstat.
struct ServerCpu
{
    int pid = 0;
    double running = 0;
    double waiting = 0;

    void sample(double sign)
    {
        if (pid <= 0)
            return;
        QFile file(QStringLiteral("/proc/%1/schedstat").arg(pid));
        if (!file.open(QIODevice::ReadOnly))
            return;
        const QList<QByteArray> fields = file.readAll().simplified().split(' ');
        if (fields.size() < 2)
            return;
        running += sign * fields[0].toDouble() / 1e9;
        waiting += sign * fields[1].toDouble() / 1e9;
    }
};

int fail(const std::string &message)
{
    std::fprintf(stderr, "server_load: %s\n", message.c_str());
    return 1;
}

int runAppends(Target target, int clients, double seconds)
{
    if (std::string e = createSession(target, "appends"); !e.empty())
        return fail(e);
    WriterResult w = runWriter(target, clients, 0, seconds, 0, {});
    if (!w.error.empty())
        return fail(w.error);
    const double elapsed = double(w.lastAckUs - w.firstSentUs) / 1e6;
    const Percentiles ack = percentiles(w.ackLatencyUs);
    printFigures({{QStringLiteral("appends"), qint64(w.acks)},
                  {QStringLiteral("clients"), clients},
                  {QStringLiteral("seconds"), elapsed},
                  {QStringLiteral("appendsPerSecond"), double(w.acks) / elapsed},
                  {QStringLiteral("ackP50Ms"), ack.p50},
                  {QStringLiteral("ackP99Ms"), ack.p99}});
    return 0;
}

// Per subscriber: what it received, checked for order and completeness.
struct Follower
{
    int64_t last = -1;
    int64_t count = 0;
    int64_t outOfOrder = 0;

    void receive(int64_t seq)
    {
        if (seq != last + 1)
            ++outOfOrder;
        last = seq;
        ++count;
    }
};

// Runs `write` on a thread of its own while this one keeps reading the
// subscribers, so acknowledgements and receipts are timed independently.
std::string writeWhileFollowing(LoadLoop &loop, const std::function<WriterResult()> &write, WriterResult &result)
{
    std::atomic<bool> done{false};
    std::thread writer([&] {
        result = write();
        done = true;
    });
    std::string error;
    while (!done && error.empty())
        error = loop.poll(10'000);
    writer.join();
    return error.empty() ? result.error : error;
}

std::string waitForFollowers(LoadLoop &loop, std::vector<Follower> &followers, int64_t lastSeq)
{
    const int64_t deadline = nowUs() + CatchUpTimeoutUs;
    for (;;) {
        const bool all = std::all_of(followers.begin(), followers.end(),
                                     [&](const Follower &f) { return f.last >= lastSeq; });
        if (all)
            return {};
        if (nowUs() > deadline)
            return "subscribers did not receive every record within 60 s";
        if (std::string e = loop.poll(10'000); !e.empty())
            return e;
    }
}

std::string checkFollowers(const std::vector<Follower> &followers, int64_t records)
{
    for (size_t i = 0; i < followers.size(); ++i) {
        const Follower &f = followers[i];
        if (f.count != records || f.outOfOrder != 0 || f.last != records - 1)
            return "subscriber " + std::to_string(i) + " received " + std::to_string(f.count) + " of "
                   + std::to_string(records) + " records (last seq " + std::to_string(f.last) + ", "
                   + std::to_string(f.outOfOrder) + " out of order)";
    }
    return {};
}

int runDelivery(Target target, int subscribers, int clients, double seconds)
{
    if (std::string e = createSession(target, "delivery"); !e.empty())
        return fail(e);
    LoadLoop loop;
    std::vector<Follower> followers(static_cast<size_t>(subscribers));
    int64_t receipts = 0;
    int64_t lastReceiptUs = 0;
    if (std::string e = loop.openSubscribers(target, subscribers,
                                             [&](int s, int64_t seq, int64_t at) {
                                                 followers[size_t(s)].receive(seq);
                                                 ++receipts;
                                                 lastReceiptUs = at;
                                             });
        !e.empty())
        return fail(e);

    WriterResult w;
    if (std::string e = writeWhileFollowing(
            loop, [&] { return runWriter(target, clients, 0, seconds, 0, {}); }, w);
        !e.empty())
        return fail(e);
    if (std::string e = waitForFollowers(loop, followers, w.maxSeq); !e.empty())
        return fail(e);
    if (std::string e = checkFollowers(followers, w.acks); !e.empty())
        return fail(e);
    const double elapsed = double(lastReceiptUs - w.firstSentUs) / 1e6;
    printFigures({{QStringLiteral("subscribers"), subscribers},
                  {QStringLiteral("clients"), clients},
                  {QStringLiteral("records"), qint64(w.acks)},
                  {QStringLiteral("receipts"), qint64(receipts)},
                  {QStringLiteral("seconds"), elapsed},
                  {QStringLiteral("appendsPerSecond"), double(w.acks) / (double(w.lastAckUs - w.firstSentUs) / 1e6)},
                  {QStringLiteral("recordsPerSecond"), double(receipts) / elapsed}});
    return 0;
}

int runFanout(Target target, int subscribers, double rate, double seconds, ServerCpu server)
{
    if (std::string e = createSession(target, "fanout"); !e.empty())
        return fail(e);
    const int64_t capacity = int64_t(rate * seconds);
    const size_t subs = size_t(subscribers);
    // Receipt times, µs after `base`, one slot per (record, subscriber): the
    // latencies are taken once every acknowledgement is known, since a record
    // may reach a subscriber before its writer reads the answer.
    std::vector<uint32_t> received(size_t(capacity) * subs, 0);
    std::vector<int64_t> ackAt(size_t(capacity), -1);
    std::vector<int64_t> sentAt(size_t(capacity), -1);
    std::vector<Follower> followers(subs);
    LoadLoop loop;
    int64_t base = 0;
    if (std::string e = loop.openSubscribers(target, subscribers,
                                             [&](int s, int64_t seq, int64_t at) {
                                                 followers[size_t(s)].receive(seq);
                                                 if (seq >= 0 && seq < capacity)
                                                     received[size_t(seq) * subs + size_t(s)] =
                                                         uint32_t(std::max<int64_t>(1, at - base));
                                             });
        !e.empty())
        return fail(e);

    base = nowUs();
    server.sample(-1);
    const auto onAck = [&](int64_t seq, int64_t sentUs, int64_t ackUs) {
        if (seq >= 0 && seq < capacity) {
            ackAt[size_t(seq)] = ackUs - base;
            sentAt[size_t(seq)] = sentUs - base;
        }
    };
    WriterResult w;
    if (std::string e = writeWhileFollowing(
            loop, [&] { return runWriter(target, FanoutAppenders, rate, seconds, capacity, onAck); }, w);
        !e.empty())
        return fail(e);
    server.sample(+1);
    // A fresh session: the acknowledged records are seqs 0 .. acks - 1.
    const int64_t records = w.acks;
    if (records == 0 || w.maxSeq != records - 1)
        return fail("appends acknowledged " + std::to_string(w.acks) + " up to seq " + std::to_string(w.maxSeq));
    if (std::string e = waitForFollowers(loop, followers, records - 1); !e.empty())
        return fail(e);
    if (std::string e = checkFollowers(followers, records); !e.empty())
        return fail(e);

    std::vector<int32_t> fromAck;
    std::vector<int32_t> fromSend;
    fromAck.reserve(received.size());
    fromSend.reserve(received.size());
    int64_t beforeAck = 0;
    for (int64_t seq = 0; seq < records; ++seq) {
        for (size_t s = 0; s < subs; ++s) {
            const int64_t at = received[size_t(seq) * subs + s];
            const int64_t latency = at - ackAt[size_t(seq)];
            // Reached the subscriber before the writer read its answer: no later than the ack.
            if (latency < 0)
                ++beforeAck;
            fromAck.push_back(int32_t(std::max<int64_t>(0, latency)));
            fromSend.push_back(int32_t(at - sentAt[size_t(seq)]));
        }
    }
    const Percentiles ack = percentiles(fromAck);
    const Percentiles send = percentiles(fromSend);
    const Percentiles commit = percentiles(w.ackLatencyUs);
    const double writeSeconds = double(w.lastAckUs - w.firstSentUs) / 1e6;
    printFigures({{QStringLiteral("subscribers"), subscribers},
                  {QStringLiteral("records"), qint64(records)},
                  {QStringLiteral("offeredPerSecond"), rate},
                  {QStringLiteral("ratePerSecond"), double(records) / writeSeconds},
                  {QStringLiteral("deliveries"), qint64(fromAck.size())},
                  {QStringLiteral("p50Ms"), ack.p50},
                  {QStringLiteral("p99Ms"), ack.p99},
                  {QStringLiteral("maxMs"), ack.max},
                  {QStringLiteral("beforeAckShare"), double(beforeAck) / double(fromAck.size())},
                  {QStringLiteral("fromSendP50Ms"), send.p50},
                  {QStringLiteral("fromSendP99Ms"), send.p99},
                  {QStringLiteral("ackP50Ms"), commit.p50},
                  {QStringLiteral("ackP99Ms"), commit.p99},
                  {QStringLiteral("writeSeconds"), writeSeconds},
                  {QStringLiteral("serverRunningSeconds"), server.running},
                  {QStringLiteral("serverWaitingSeconds"), server.waiting}});
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    raiseFileLimit();
    const QStringList args = app.arguments();
    Target target;
    target.port = args.size() > 1 ? quint16(args.at(1).toUInt()) : 0;
    target.key = qEnvironmentVariable("SESSIONSCOPE_SECRET_KEY").toStdString();
    const QString mode = args.value(2);
    auto number = [&](int i) { return args.value(i).toDouble(); };
    if (target.port == 0 || target.key.empty()) {
        std::fputs("usage: SESSIONSCOPE_SECRET_KEY=KEY server_load PORT appends CLIENTS SECONDS\n"
                   "                                               delivery SUBSCRIBERS CLIENTS SECONDS\n"
                   "                                               fanout SUBSCRIBERS RATE SECONDS [SERVER_PID]\n",
                   stderr);
        return 2;
    }
    if (mode == u"appends" && args.size() == 5 && number(3) >= 1 && number(4) > 0)
        return runAppends(target, int(number(3)), number(4));
    if (mode == u"delivery" && args.size() == 6 && number(3) >= 1 && number(4) >= 1 && number(5) > 0)
        return runDelivery(target, int(number(3)), int(number(4)), number(5));
    if (mode == u"fanout" && (args.size() == 6 || args.size() == 7) && number(3) >= 1 && number(4) > 0
        && number(5) > 0)
        return runFanout(target, int(number(3)), number(4), number(5), ServerCpu{int(number(6)), 0, 0});
    std::fputs("server_load: unknown mode or bad arguments (see the usage in bench/server_load.cpp)\n", stderr);
    return 2;
}
