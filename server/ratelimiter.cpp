#include "server/ratelimiter.h"

#include <cmath>

namespace sessionscope {

RateLimiter::RateLimiter(double ratePerSecond, int burst)
    : m_rate(ratePerSecond > 0 ? ratePerSecond / 1000.0 : 0),
      m_burst(burst > 0 ? burst : qMax(1, int(std::ceil(ratePerSecond))))
{
}

RateLimitDecision RateLimiter::take(const QByteArray &credential, qint64 nowMs)
{
    RateLimitDecision d;
    if (!enabled())
        return d;
    if (m_buckets.size() > 10'000)
        prune(nowMs);
    auto it = m_buckets.find(credential);
    if (it == m_buckets.end())
        it = m_buckets.insert(credential, Bucket{double(m_burst), nowMs});
    Bucket &b = *it;
    b.tokens = qMin(double(m_burst), b.tokens + double(nowMs - b.updatedMs) * m_rate);
    b.updatedMs = nowMs;
    d.limit = m_burst;
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        d.allowed = true;
    } else {
        d.allowed = false;
    }
    d.remaining = int(std::floor(b.tokens));
    const double missing = b.tokens >= 1.0 ? 0.0 : 1.0 - b.tokens;
    d.resetMs = nowMs + qint64(std::ceil(missing / m_rate));
    return d;
}

void RateLimiter::prune(qint64 nowMs)
{
    // A bucket that has refilled is the same as no bucket.
    for (auto it = m_buckets.begin(); it != m_buckets.end();) {
        if (it->tokens + double(nowMs - it->updatedMs) * m_rate >= m_burst)
            it = m_buckets.erase(it);
        else
            ++it;
    }
}

Result<RateLimiter::Spec> RateLimiter::parse(QStringView text)
{
    const QStringView t = text.trimmed();
    const qsizetype slash = t.indexOf(QLatin1Char('/'));
    const QStringView number = slash < 0 ? t : t.left(slash);
    const QStringView unit = slash < 0 ? QStringView(u"s") : t.mid(slash + 1).trimmed();
    bool ok = false;
    const double n = number.trimmed().toDouble(&ok);
    double perSecond = 0;
    if (unit == u"s" || unit == u"sec" || unit == u"second")
        perSecond = n;
    else if (unit == u"m" || unit == u"min" || unit == u"minute")
        perSecond = n / 60.0;
    else if (unit == u"h" || unit == u"hour")
        perSecond = n / 3600.0;
    else
        ok = false;
    if (!ok || !(n > 0) || !std::isfinite(n)) {
        return Error::make(
            QStringLiteral("Invalid rate limit \"%1\": use N/s, N/m or N/h with N > 0")
                .arg(text.toString()));
    }
    Spec spec;
    spec.ratePerSecond = perSecond;
    spec.burst = qMax(1, int(std::ceil(n)));
    return spec;
}

} // namespace sessionscope
