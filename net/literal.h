#pragma once

#include <QByteArrayView>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sessionscope {

// Whether the N bytes at a and b are the same, compared a word at a time: a
// fixed-size memcmp the compiler may still turn into a library call.
template <std::size_t N>
inline bool sameBytes(const char *a, const char *b)
{
    if constexpr (N >= 8) {
        std::uint64_t x, y;
        std::memcpy(&x, a, 8);
        std::memcpy(&y, b, 8);
        return x == y && sameBytes<N - 8>(a + 8, b + 8);
    } else if constexpr (N >= 4) {
        std::uint32_t x, y;
        std::memcpy(&x, a, 4);
        std::memcpy(&y, b, 4);
        return x == y && sameBytes<N - 4>(a + 4, b + 4);
    } else if constexpr (N >= 2) {
        std::uint16_t x, y;
        std::memcpy(&x, a, 2);
        std::memcpy(&y, b, 2);
        return x == y && sameBytes<N - 2>(a + 2, b + 2);
    } else if constexpr (N == 1) {
        return *a == *b;
    } else {
        return true;
    }
}

// Whether `text` is exactly `literal`. For the short protocol names compared
// on hot paths (field names, JSON keys, event types), where an ordinary
// comparison calls a library function.
template <std::size_t N>
bool equalsLiteral(std::string_view text, const char (&literal)[N])
{
    return text.size() == N - 1 && sameBytes<N - 1>(text.data(), literal);
}

template <std::size_t N>
bool equalsLiteral(QByteArrayView text, const char (&literal)[N])
{
    return text.size() == qsizetype(N - 1) && sameBytes<N - 1>(text.data(), literal);
}

} // namespace sessionscope
