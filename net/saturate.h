#pragma once

#include <QtGlobal>

#include <cmath>
#include <limits>

namespace sessionscope {

// A JSON number as an integer: truncated toward zero like the cast, but
// saturated at the qint64 range instead of undefined behaviour (a claim or a
// field of 1e300 is valid JSON), and NaN as 0. Comparisons against it then
// come out as JavaScript's on the double would.
inline qint64 saturatedInt64(double d)
{
    constexpr double limit = 9223372036854775808.0; // 2^63
    if (std::isnan(d))
        return 0;
    if (d >= limit)
        return std::numeric_limits<qint64>::max();
    if (d <= -limit)
        return std::numeric_limits<qint64>::min();
    return qint64(d);
}

} // namespace sessionscope
