#pragma once

#include "server/chaosspec.h"
#include "server/wirejson.h"

#include <QByteArray>

#include <random>

namespace sessionscope {

// The random decisions of chaos mode (see ChaosSpec) and the count of every
// fault injected, for GET /api/v1/chaos. One RNG seeded from the spec, so a
// run with the same seed and the same order of requests injects the same
// faults. Lives on the server's thread, as everything it is asked from does.
class ChaosInjector
{
public:
    enum class AppendFault { None, BeforeWrite, AfterWrite };

    struct Counts
    {
        qint64 sseDrops = 0;
        qint64 append5xx = 0;
        qint64 delayedRequests = 0;
        qint64 slowReads = 0;
    };

    // A spec without a seed gets a random one, shown in spec().
    explicit ChaosInjector(ChaosSpec spec);

    const ChaosSpec &spec() const { return m_spec; }
    // X-Sessionscope-Chaos, on every response.
    const QByteArray &headerValue() const { return m_header; }
    const Counts &counts() const { return m_counts; }
    // {spec, injected:{sseDrop, append5xx, delayedRequests, slowReads}}
    Json report() const;

    // Per request: how long to hold it before handling it (0: not at all).
    int requestDelayMs();
    // Per append.
    AppendFault appendFault();
    // The 503's error text, which says which half it was.
    static QString appendFaultMessage(AppendFault fault);
    // Per SSE response: trickle it?
    bool slowRead();
    // Per SSE event: cut the connection here? Then `*keepBytes` is how much
    // of the event goes out first (0, or a torn part of it).
    bool dropSseEvent(qsizetype eventBytes, qsizetype *keepBytes);
    // The next trickle fragment (1..64 bytes) and pause (1..4 ms).
    int fragmentBytes();
    int pauseMs();
    // Whether a drop resets (RST) rather than closes (FIN) the connection.
    bool coinFlip();

private:
    bool chance(double p);
    int uniform(int low, int high);

    ChaosSpec m_spec;
    QByteArray m_header;
    std::mt19937_64 m_rng;
    Counts m_counts;
};

} // namespace sessionscope
