#pragma once

#include <QtGlobal>

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Looking at a block of bytes at once, for the decoders' hot loops (SSE line
// ends, JSON string bytes): 16 with SSE2 (every x86-64), else 8 in a word on
// little-endian machines, else one. A mask has bit i set for byte i of the
// block at p; p must have Block readable bytes.
namespace sessionscope::bytescan {

#if defined(__SSE2__)

constexpr int Block = 16;

struct Bytes
{
    __m128i v;
};

Q_ALWAYS_INLINE Bytes load(const char *p)
{
    return {_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))};
}

// Bytes equal to c.
Q_ALWAYS_INLINE unsigned equal(Bytes b, char c)
{
    return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(b.v, _mm_set1_epi8(c))));
}

// Control characters (below 0x20) and every non-ASCII byte.
Q_ALWAYS_INLINE unsigned controlOrNonAscii(Bytes b)
{
    // A signed compare: bytes from 0x80 up are negative.
    return unsigned(_mm_movemask_epi8(_mm_cmplt_epi8(b.v, _mm_set1_epi8(0x20))));
}

#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__

constexpr int Block = 8;

struct Bytes
{
    std::uint64_t w;
};

namespace detail {
constexpr std::uint64_t Ones = 0x0101010101010101ULL;
constexpr std::uint64_t Low7 = 0x7F7F7F7F7F7F7F7FULL;
constexpr std::uint64_t High = 0x8080808080808080ULL;

// Each byte is tested on its own (no carry crosses a byte); the flags, in bit
// 8i+7 for byte i, are gathered into bits 0..7.
Q_ALWAYS_INLINE unsigned gather(std::uint64_t flags)
{
    return unsigned(((flags >> 7) * 0x0102040810204080ULL) >> 56);
}
} // namespace detail

Q_ALWAYS_INLINE Bytes load(const char *p)
{
    Bytes b;
    std::memcpy(&b.w, p, sizeof b.w);
    return b;
}

Q_ALWAYS_INLINE unsigned equal(Bytes b, char c)
{
    using namespace detail;
    const std::uint64_t x = b.w ^ (Ones * static_cast<unsigned char>(c));
    return gather(~(((x & Low7) + Low7) | x) & High);
}

Q_ALWAYS_INLINE unsigned controlOrNonAscii(Bytes b)
{
    using namespace detail;
    const std::uint64_t control = ~(((b.w & Low7) + Ones * (0x80 - 0x20)) | b.w) & High;
    return gather(control | (b.w & High));
}

#else

constexpr int Block = 1;

struct Bytes
{
    unsigned char c;
};

Q_ALWAYS_INLINE Bytes load(const char *p)
{
    return {static_cast<unsigned char>(*p)};
}

Q_ALWAYS_INLINE unsigned equal(Bytes b, char c)
{
    return b.c == static_cast<unsigned char>(c) ? 1 : 0;
}

Q_ALWAYS_INLINE unsigned controlOrNonAscii(Bytes b)
{
    return b.c < 0x20 || b.c >= 0x80 ? 1 : 0;
}

#endif

// The index of the lowest set bit of a non-zero mask: the first byte found.
Q_ALWAYS_INLINE int first(unsigned mask)
{
    return std::countr_zero(mask);
}

// The run of ASCII digits at p: how many (counting no further than 19) and,
// when there are at most 18, their value, which cannot overflow then. The
// input starts at `begin` and may be read anywhere in [begin, end).
Q_ALWAYS_INLINE int digitRun(const char *begin, const char *p, const char *end, std::uint64_t &value)
{
    int count = 0;
    value = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // Eight digits at a time: timestamps have thirteen.
    static constexpr std::uint64_t Pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    constexpr std::uint64_t Ones = 0x0101010101010101ULL;
    constexpr std::uint64_t Low7 = 0x7F7F7F7F7F7F7F7FULL;
    constexpr std::uint64_t High = 0x8080808080808080ULL;
    while (p < end && end - begin >= 8 && count <= 18) {
        std::uint64_t w;
        if (end - p >= 8) {
            std::memcpy(&w, p, sizeof w);
        } else {
            // Near the end: the last eight bytes, shifted so p's byte comes
            // first and zeros (not digits) follow the input.
            std::memcpy(&w, end - 8, sizeof w);
            w >>= 8 * (8 - (end - p));
        }
        const std::uint64_t d = w - Ones * '0';
        // A digit has 3 in the high nibble and stays below 10 when 6 is added:
        // t is zero in exactly the digits' bytes up to the first other byte
        // (a borrow or carry reaches only the bytes after it).
        const std::uint64_t t = ((w & (Ones * 0xF0)) ^ (Ones * 0x30)) | ((d + Ones * 6) & (Ones * 0xF0));
        const std::uint64_t notDigit = (((t & Low7) + Low7) | t) & High;
        const int n = notDigit ? std::countr_zero(notDigit) >> 3 : 8;
        if (n) {
            // The n digits, moved to the top bytes (the rest zero), read as
            // eight at once (the method of fast_float's parse_eight_digits).
            std::uint64_t v = n == 8 ? d : (d & ((std::uint64_t(1) << (8 * n)) - 1)) << (8 * (8 - n));
            v = v * 10 + (v >> 8);
            v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
                 (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
            value = value * Pow10[n] + v;
            count += n;
            p += n;
        }
        if (n < 8)
            return count;
    }
#endif
    while (p < end && unsigned(*p - '0') < 10 && count <= 18) {
        value = value * 10 + unsigned(*p - '0');
        ++count;
        ++p;
    }
    return count;
}

} // namespace sessionscope::bytescan
