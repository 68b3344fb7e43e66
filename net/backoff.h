#pragma once

#include <chrono>

namespace sessionscope {

struct BackoffPolicy
{
    std::chrono::milliseconds initial{250};
    std::chrono::milliseconds maximum{30000};
    double multiplier = 2.0;
    // Fraction of each delay that is randomised: 0.5 picks from [d/2, d].
    // Jitter keeps many clients from reconnecting in lockstep after an outage.
    double jitter = 0.5;
};

// Capped exponential backoff with jitter, shared by the subscription and the
// appender so both behave the same after an outage.
class Backoff
{
public:
    explicit Backoff(BackoffPolicy policy = {});

    void setPolicy(BackoffPolicy policy);
    const BackoffPolicy &policy() const { return m_policy; }

    // The delay before the next attempt; each call counts one failure.
    std::chrono::milliseconds next();
    void reset() { m_failures = 0; }
    int failures() const { return m_failures; }

private:
    BackoffPolicy m_policy;
    int m_failures = 0;
};

} // namespace sessionscope
