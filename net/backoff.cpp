#include "net/backoff.h"

#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

namespace sessionscope {

Backoff::Backoff(BackoffPolicy policy)
{
    setPolicy(policy);
}

void Backoff::setPolicy(BackoffPolicy policy)
{
    policy.initial = std::max(policy.initial, std::chrono::milliseconds(0));
    policy.maximum = std::max(policy.maximum, policy.initial);
    policy.multiplier = std::max(policy.multiplier, 1.0);
    policy.jitter = std::clamp(policy.jitter, 0.0, 1.0);
    m_policy = policy;
}

std::chrono::milliseconds Backoff::next()
{
    const double cap = double(m_policy.maximum.count());
    // The exponent is bounded so the pow never overflows after many failures.
    const double raw = double(m_policy.initial.count()) * std::pow(m_policy.multiplier, std::min(m_failures, 62));
    const double capped = std::min(raw, cap);
    ++m_failures;
    const double low = capped * (1.0 - m_policy.jitter);
    const double delay = low + (capped - low) * QRandomGenerator::global()->generateDouble();
    return std::chrono::milliseconds(qint64(std::llround(delay)));
}

} // namespace sessionscope
