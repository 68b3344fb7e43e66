#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QHash>

namespace sessionscope {

struct RateLimitDecision
{
    bool allowed = true;
    int limit = 0;
    int remaining = 0;
    qint64 resetMs = 0; // unix ms when the next request will be allowed
};

// A token bucket per credential (the bearer value), off unless configured:
// `rate` requests per second on average, up to `burst` at once.
class RateLimiter
{
public:
    RateLimiter() = default;
    RateLimiter(double ratePerSecond, int burst);

    bool enabled() const { return m_rate > 0; }
    RateLimitDecision take(const QByteArray &credential, qint64 nowMs);

    // "20/s", "600/m", "5/h" or a bare number (per second).
    struct Spec
    {
        double ratePerSecond = 0;
        int burst = 0;
    };
    static Result<Spec> parse(QStringView text);

private:
    struct Bucket
    {
        double tokens = 0;
        qint64 updatedMs = 0;
    };

    void prune(qint64 nowMs);

    double m_rate = 0; // tokens per ms
    int m_burst = 0;
    QHash<QByteArray, Bucket> m_buckets;
};

} // namespace sessionscope
