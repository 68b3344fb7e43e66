#pragma once

#include "net/result.h"

#include <QString>
#include <QStringView>

#include <optional>

namespace sessionscope {

// What `sessionscope-server --chaos SPEC` injects, e.g.
// "sse-drop=0.01,append-5xx=0.02,latency=0-200ms,slow-read=0.05,seed=7":
//   sse-drop=P     per SSE event: abort the connection, sometimes mid-event
//   append-5xx=P   per append: 503, half before the record is stored, half after
//   latency=A-Bms  per request: wait a uniform A..B ms before handling it
//   slow-read=P    per SSE response: trickle it in 1..64 byte fragments
//   seed=N         the random sequence, so a failing run can be replayed
// Inactive (every fault off) by default. ChaosInjector makes the decisions.
class ChaosSpec
{
public:
    static constexpr int MaxLatencyMs = 60'000;

    double sseDrop = 0;
    double append5xx = 0;
    double slowRead = 0;
    int latencyMinMs = 0;
    int latencyMaxMs = 0;
    std::optional<quint64> seed;

    // A clear error naming the bad part: unknown key, probability outside
    // 0..1, bad range, repeated key, empty spec.
    static Result<ChaosSpec> parse(QStringView text);

    // Some fault is on.
    bool isActive() const;
    // Canonical form (the keys above in that order, only those in effect,
    // seed last): what the warning, the header and GET /api/v1/chaos show.
    QString toString() const;
};

} // namespace sessionscope
