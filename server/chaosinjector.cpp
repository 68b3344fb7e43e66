#include "server/chaosinjector.h"

#include <QRandomGenerator>

namespace sessionscope {

ChaosInjector::ChaosInjector(ChaosSpec spec) : m_spec(std::move(spec))
{
    if (!m_spec.seed)
        m_spec.seed = QRandomGenerator::system()->generate64();
    m_rng.seed(*m_spec.seed);
    m_header = m_spec.toString().toLatin1();
}

Json ChaosInjector::report() const
{
    Json injected = Json::object();
    injected["sseDrop"] = m_counts.sseDrops;
    injected["append5xx"] = m_counts.append5xx;
    injected["delayedRequests"] = m_counts.delayedRequests;
    injected["slowReads"] = m_counts.slowReads;
    Json out = Json::object();
    out["enabled"] = true;
    out["spec"] = m_header.toStdString();
    out["injected"] = injected;
    return out;
}

bool ChaosInjector::chance(double p)
{
    if (p <= 0)
        return false;
    return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng) < p;
}

int ChaosInjector::uniform(int low, int high)
{
    return std::uniform_int_distribution<int>(low, high)(m_rng);
}

int ChaosInjector::requestDelayMs()
{
    if (m_spec.latencyMaxMs <= 0)
        return 0;
    const int ms = uniform(m_spec.latencyMinMs, m_spec.latencyMaxMs);
    if (ms > 0)
        ++m_counts.delayedRequests;
    return ms;
}

ChaosInjector::AppendFault ChaosInjector::appendFault()
{
    if (!chance(m_spec.append5xx))
        return AppendFault::None;
    ++m_counts.append5xx;
    return coinFlip() ? AppendFault::BeforeWrite : AppendFault::AfterWrite;
}

QString ChaosInjector::appendFaultMessage(AppendFault fault)
{
    return fault == AppendFault::AfterWrite
               ? QStringLiteral("Chaos mode: the record was stored but this answer is an injected "
                                "failure; retry "
                                "with the same X-Part-Id")
               : QStringLiteral("Chaos mode: injected failure, nothing was stored; retry with the "
                                "same X-Part-Id");
}

bool ChaosInjector::slowRead()
{
    if (!chance(m_spec.slowRead))
        return false;
    ++m_counts.slowReads;
    return true;
}

bool ChaosInjector::dropSseEvent(qsizetype eventBytes, qsizetype *keepBytes)
{
    if (!chance(m_spec.sseDrop))
        return false;
    ++m_counts.sseDrops;
    // Half the drops tear the event: the client holds a partial frame when
    // the connection goes.
    *keepBytes = eventBytes > 1 && coinFlip()
                     ? qsizetype(uniform(1, int(qMin<qsizetype>(eventBytes - 1, 1 << 30))))
                     : 0;
    return true;
}

int ChaosInjector::fragmentBytes()
{
    return uniform(1, 64);
}

int ChaosInjector::pauseMs()
{
    return uniform(1, 4);
}

bool ChaosInjector::coinFlip()
{
    return uniform(0, 1) == 1;
}

} // namespace sessionscope
