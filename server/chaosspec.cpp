#include "server/chaosspec.h"

#include <QStringList>

#include <cmath>

namespace sessionscope {

namespace {

Error specError(const QString &message)
{
    return Error::make(QStringLiteral("bad chaos spec: %1").arg(message));
}

Result<double> probability(QStringView item, QStringView value)
{
    bool ok = false;
    const double p = value.toDouble(&ok);
    if (!ok || !std::isfinite(p) || p < 0 || p > 1)
        return specError(
            QStringLiteral("\"%1\": the probability must be a number from 0 to 1").arg(item));
    return p;
}

Result<int> milliseconds(QStringView item, QStringView text)
{
    bool ok = false;
    const int ms = text.trimmed().toInt(&ok);
    if (!ok || ms < 0 || ms > ChaosSpec::MaxLatencyMs)
        return specError(
            QStringLiteral("\"%1\": want A-Bms with 0 <= A <= B <= %2, e.g. latency=0-200ms")
                .arg(item)
                .arg(ChaosSpec::MaxLatencyMs));
    return ms;
}

QString number(double p)
{
    return QString::number(p, 'g', 6);
}

} // namespace

Result<ChaosSpec> ChaosSpec::parse(QStringView text)
{
    ChaosSpec spec;
    QStringList seen;
    const auto items = text.split(u',');
    if (text.trimmed().isEmpty())
        return specError(
            QStringLiteral("empty (want e.g. sse-drop=0.01,append-5xx=0.02,latency=0-200ms)"));
    for (QStringView raw : items) {
        const QStringView item = raw.trimmed();
        const qsizetype eq = item.indexOf(u'=');
        if (eq <= 0)
            return specError(QStringLiteral("\"%1\" is not KEY=VALUE").arg(item));
        const QString key = item.first(eq).trimmed().toString();
        const QStringView value = item.sliced(eq + 1).trimmed();
        if (seen.contains(key))
            return specError(QStringLiteral("\"%1\" is given twice").arg(key));
        seen << key;
        if (key == u"sse-drop" || key == u"append-5xx" || key == u"slow-read") {
            const auto p = probability(item, value);
            if (!p)
                return p.error();
            (key == u"sse-drop"     ? spec.sseDrop
             : key == u"append-5xx" ? spec.append5xx
                                    : spec.slowRead) = *p;
        } else if (key == u"latency") {
            if (!value.endsWith(u"ms"))
                return specError(
                    QStringLiteral("\"%1\": want A-Bms, e.g. latency=0-200ms").arg(item));
            const QStringView range = value.chopped(2);
            const qsizetype dash = range.indexOf(u'-');
            const auto low = milliseconds(item, dash < 0 ? range : range.first(dash));
            if (!low)
                return low.error();
            const auto high = milliseconds(item, dash < 0 ? range : range.sliced(dash + 1));
            if (!high)
                return high.error();
            if (*low > *high)
                return specError(QStringLiteral("\"%1\": the range runs backwards").arg(item));
            spec.latencyMinMs = *low;
            spec.latencyMaxMs = *high;
        } else if (key == u"seed") {
            bool ok = false;
            const quint64 seed = value.toULongLong(&ok);
            if (!ok)
                return specError(
                    QStringLiteral("\"%1\": the seed must be a non-negative integer").arg(item));
            spec.seed = seed;
        } else {
            return specError(
                QStringLiteral("unknown key \"%1\" (known: sse-drop, append-5xx, latency, "
                               "slow-read, seed)")
                    .arg(key));
        }
    }
    return spec;
}

bool ChaosSpec::isActive() const
{
    return sseDrop > 0 || append5xx > 0 || slowRead > 0 || latencyMaxMs > 0;
}

QString ChaosSpec::toString() const
{
    QStringList parts;
    if (sseDrop > 0)
        parts << QStringLiteral("sse-drop=") + number(sseDrop);
    if (append5xx > 0)
        parts << QStringLiteral("append-5xx=") + number(append5xx);
    if (latencyMaxMs > 0)
        parts << QStringLiteral("latency=%1-%2ms").arg(latencyMinMs).arg(latencyMaxMs);
    if (slowRead > 0)
        parts << QStringLiteral("slow-read=") + number(slowRead);
    if (seed)
        parts << QStringLiteral("seed=%1").arg(*seed);
    return parts.join(u',');
}

} // namespace sessionscope
