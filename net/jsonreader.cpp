#include "net/jsonreader.h"

#include "net/bytescan.h"

#include <nlohmann/json.hpp>

#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace sessionscope {

namespace {

// What the byte after a backslash stands for; 0 for 'u' and for invalid escapes.
constexpr auto SimpleEscape = [] {
    std::array<char, 256> table{};
    table['"'] = '"';
    table['\\'] = '\\';
    table['/'] = '/';
    table['b'] = '\b';
    table['f'] = '\f';
    table['n'] = '\n';
    table['r'] = '\r';
    table['t'] = '\t';
    return table;
}();

void assignString(std::string &out, QByteArrayView text)
{
    out.assign(text.data(), size_t(text.size()));
}
void assignString(QByteArray &out, QByteArrayView text)
{
    out = QByteArray(text.data(), text.size());
}

// The length of the well-formed UTF-8 sequence at p (Unicode table 3-7), or 0.
Q_ALWAYS_INLINE int utf8SequenceLength(const char *p, const char *end)
{
    const auto b0 = static_cast<unsigned char>(p[0]);
    auto cont = [&](int i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        if (p + i >= end)
            return false;
        const auto b = static_cast<unsigned char>(p[i]);
        return b >= lo && b <= hi;
    };
    if (b0 >= 0xC2 && b0 <= 0xDF)
        return cont(1) ? 2 : 0;
    if (b0 == 0xE0)
        return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
        return cont(1) && cont(2) ? 3 : 0;
    if (b0 == 0xED)
        return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (b0 == 0xF0)
        return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b0 >= 0xF1 && b0 <= 0xF3)
        return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b0 == 0xF4)
        return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

using bytescan::Block;

// The bytes a string reader must look at, bit i for byte i of the block at p:
// the closing quote, a backslash, a control character or a non-ASCII byte.
Q_ALWAYS_INLINE unsigned specialMask(const char *p)
{
    const bytescan::Bytes bytes = bytescan::load(p);
    return bytescan::equal(bytes, '"') | bytescan::equal(bytes, '\\') | bytescan::controlOrNonAscii(bytes);
}

// Room a decoding pass may write past the decoded bytes: whole blocks and
// whole UTF-8 sequences are stored at once.
constexpr qsizetype StoreSlack = 16 + Block;

// The first byte at or after p that a string reader must look at.
Q_ALWAYS_INLINE const char *findStringSpecial(const char *p, const char *end)
{
    while (end - p >= Block) {
        if (const unsigned mask = specialMask(p))
            return p + bytescan::first(mask);
        p += Block;
    }
    while (p < end && JsonReader::isPlainStringByte(*p))
        ++p;
    return p;
}

// Decodes plain bytes and the one-character escapes (\" \\ \n ...) from p to o a
// block at a time, stopping at any other byte to look at (the closing quote,
// \u, a control or non-ASCII byte) or near the end. Escaped JSON inside a
// string (S2 record bodies) has one every few bytes: each is handled within
// its block, without starting the block over.
Q_ALWAYS_INLINE void decodeRun(const char *&p, const char *end, char *&o)
{
    using namespace bytescan;
    // Every load and store below stays within two blocks of p.
    while (end - p >= 2 * Block + 2) {
        const Bytes bytes = load(p);
        const unsigned quotes = equal(bytes, '"');
        const unsigned backslashes = equal(bytes, '\\');
        unsigned mask = quotes | backslashes | controlOrNonAscii(bytes);
        std::memcpy(o, p, Block);
        int next = 0;  // input bytes of this block dealt with
        int shift = 0; // how far the output lags the input within it
        while (mask) {
            const int k = first(mask);
            if (!(backslashes >> k & 1)) {
                p += k;
                o += k - shift;
                return;
            }
            // The usual \" and \\ are told by the masks, sparing a load the
            // next escape would wait for.
            char simple = '"';
            if (!(quotes >> (k + 1) & 1)) {
                simple = backslashes >> (k + 1) & 1 ? '\\' : SimpleEscape[static_cast<unsigned char>(p[k + 1])];
                if (!simple) {
                    p += k;
                    o += k - shift;
                    return;
                }
            }
            o[k - shift] = simple;
            ++shift;
            next = k + 2;
            // The bytes after the escape move back by `shift`.
            std::memcpy(o + next - shift, p + next, Block);
            mask &= ~(3u << k); // the escape and the character it escaped
        }
        const int advance = std::max(next, Block);
        p += advance;
        o += advance - shift;
    }
}

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Four hex digits at p, or -1.
int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int value = 0;
    for (int i = 0; i < 4; ++i) {
        const int digit = hexValue(p[i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

qsizetype encodeUtf8(char32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = char(cp);
        return 1;
    }
    if (cp < 0x800) {
        out[0] = char(0xC0 | (cp >> 6));
        out[1] = char(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = char(0xE0 | (cp >> 12));
        out[1] = char(0x80 | ((cp >> 6) & 0x3F));
        out[2] = char(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = char(0xF0 | (cp >> 18));
    out[1] = char(0x80 | ((cp >> 12) & 0x3F));
    out[2] = char(0x80 | ((cp >> 6) & 0x3F));
    out[3] = char(0x80 | (cp & 0x3F));
    return 4;
}

constexpr char32_t InvalidEscape = 0xFFFFFFFF;
constexpr char32_t UnpairedSurrogate = 0xFFFFFFFE;

// The code point of the \u escape at p (two escapes for a surrogate pair), or
// InvalidEscape / UnpairedSurrogate.
char32_t unicodeEscape(const char *p, const char *end)
{
    const int unit = hex4(p + 2, end);
    if (unit < 0)
        return InvalidEscape;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return UnpairedSurrogate;
    if (unit < 0xD800 || unit > 0xDBFF)
        return char32_t(unit);
    p += 6;
    const int low = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, end) : -1;
    if (low < 0xDC00 || low > 0xDFFF)
        return UnpairedSurrogate;
    return 0x10000 + ((char32_t(unit) - 0xD800) << 10) + (char32_t(low) - 0xDC00);
}

QString describeByte(char c)
{
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x21 && b < 0x7F)
        return QStringLiteral("unexpected '%1'").arg(QChar(b));
    return QStringLiteral("unexpected byte 0x%1").arg(b, 2, 16, QLatin1Char('0'));
}

// A double the way nlohmann::json reads one: overflow is an error, underflow is 0.
bool parseDouble(const char *start, const char *end, double &out)
{
    const auto [ptr, ec] = std::from_chars(start, end, out);
    if (ec == std::errc() && ptr == end)
        return true;
    if (ec != std::errc::result_out_of_range)
        return false;
    // Decide between overflow and underflow from the decimal exponent.
    const char *p = start;
    const bool negative = *p == '-';
    if (negative)
        ++p;
    qint64 magnitude = 0; // position of the first significant digit relative to the point
    bool seenDigit = false;
    bool inFraction = false;
    for (; p < end && *p != 'e' && *p != 'E'; ++p) {
        if (*p == '.') {
            inFraction = true;
        } else if (!seenDigit && *p == '0') {
            if (inFraction)
                --magnitude;
        } else if (!seenDigit) {
            seenDigit = true;
            if (!inFraction)
                magnitude = 1;
        } else if (!inFraction) {
            ++magnitude;
        }
    }
    qint64 exponent = 0;
    if (p < end) {
        ++p;
        const bool negativeExponent = *p == '-';
        if (*p == '-' || *p == '+')
            ++p;
        for (; p < end; ++p)
            exponent = std::min<qint64>(exponent * 10 + (*p - '0'), qint64(1) << 40);
        if (negativeExponent)
            exponent = -exponent;
    }
    if (seenDigit && magnitude + exponent > 0)
        return false;
    out = negative ? -0.0 : 0.0;
    return true;
}

} // namespace

JsonReader::JsonReader(QByteArrayView json)
{
    static const char empty = '\0';
    m_begin = json.data() ? json.data() : &empty;
    m_p = m_begin;
    m_end = m_begin + json.size();
}

QString JsonReader::typeName(Type type)
{
    switch (type) {
    case Type::Object:
        return QStringLiteral("an object");
    case Type::Array:
        return QStringLiteral("an array");
    case Type::String:
        return QStringLiteral("a string");
    case Type::Number:
        return QStringLiteral("a number");
    case Type::Bool:
        return QStringLiteral("a boolean");
    case Type::Null:
        return QStringLiteral("null");
    case Type::Invalid:
        break;
    }
    return QStringLiteral("invalid JSON");
}

bool JsonReader::fail(const QString &reason, const char *at)
{
    if (!m_failed) {
        m_failed = true;
        m_errorAt = at - m_begin;
        m_error = QStringLiteral("%1 at byte %2").arg(reason).arg(m_errorAt);
    }
    m_p = m_end;
    return false;
}

// At m_p: the end of the input, or a byte where `expected` belongs.
bool JsonReader::failUnexpected(const char *expected)
{
    if (m_p >= m_end)
        return fail(QStringLiteral("unexpected end of input"), m_p);
    if (!expected)
        return fail(describeByte(*m_p), m_p);
    return fail(describeByte(*m_p) + QStringLiteral(" where %1 belongs").arg(QLatin1String(expected)), m_p);
}

JsonReader::Type JsonReader::failPeek()
{
    if (m_p >= m_end)
        fail(QStringLiteral("unexpected end of input"), m_p);
    else
        fail(describeByte(*m_p), m_p);
    return Type::Invalid;
}

bool JsonReader::failEnter(Type type)
{
    return m_failed ? false : fail(QStringLiteral("expected %1").arg(typeName(type)), m_p);
}

// A key with escapes or non-ASCII bytes, or a broken one: decoded into the scratch buffer.
bool JsonReader::readKeySlow(std::string_view &key)
{
    QByteArrayView text;
    if (!scanString<true>(text))
        return false;
    key = std::string_view(text.data(), size_t(text.size()));
    m_keyDecoded = true;
    return expectColon();
}

char *JsonReader::scratchFor(qsizetype bytes)
{
    if (bytes <= qsizetype(sizeof m_inlineScratch))
        return m_inlineScratch;
    if (qsizetype(m_scratch.size()) < bytes)
        m_scratch.resize(size_t(bytes));
    return m_scratch.data();
}

// One pass over the string at m_p (its opening quote), validating it left to
// right so that the first problem is the one reported. With Decode, `text`
// gets its decoded bytes: a view of the input when nothing needed decoding,
// else of the scratch buffer.
template <bool Decode>
bool JsonReader::scanString(QByteArrayView &text)
{
    const char *const begin = m_p + 1;
    const char *p = findStringSpecial(begin, m_end);
    if (Q_LIKELY(p < m_end && *p == '"')) {
        text = QByteArrayView(begin, p - begin);
        m_p = p + 1;
        return true;
    }
    // Decoded bytes never outnumber raw ones, so the rest of the input bounds
    // them.
    char *const out = Decode ? scratchFor((m_end - begin) + StoreSlack) : nullptr;
    char *o = out;
    if constexpr (Decode) {
        // The plain bytes before the first special one; usually a few.
        if (p - begin <= Block && m_end - begin >= Block)
            std::memcpy(o, begin, Block);
        else
            std::memcpy(o, begin, size_t(p - begin));
        o += p - begin;
    }
    for (;;) {
        if (Q_UNLIKELY(p >= m_end))
            return fail(QStringLiteral("unterminated string"), m_p);
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"')
            break;
        if (c == '\\') {
            if (Q_UNLIKELY(p + 1 >= m_end))
                return fail(QStringLiteral("unterminated string"), m_p);
            if (const char simple = SimpleEscape[static_cast<unsigned char>(p[1])]) {
                if constexpr (Decode)
                    *o++ = simple;
                p += 2;
            } else if (p[1] == 'u') {
                const char32_t cp = unicodeEscape(p, m_end);
                if (cp == InvalidEscape)
                    return fail(QStringLiteral("invalid \\u escape"), p);
                if (cp == UnpairedSurrogate)
                    return fail(QStringLiteral("unpaired surrogate in a \\u escape"), p);
                if constexpr (Decode)
                    o += encodeUtf8(cp, o);
                p += cp >= 0x10000 ? 12 : 6;
            } else {
                return fail(QStringLiteral("invalid escape '\\%1'").arg(QLatin1Char(p[1])), p);
            }
        } else if (Q_UNLIKELY(c < 0x20)) {
            return fail(QStringLiteral("control character in a string"), p);
        } else {
            const int length = utf8SequenceLength(p, m_end);
            if (Q_UNLIKELY(!length))
                return fail(QStringLiteral("invalid UTF-8 in a string"), p);
            if constexpr (Decode) {
                if (m_end - p >= 4)
                    std::memcpy(o, p, 4); // one store; the bytes past the sequence are overwritten
                else
                    std::memcpy(o, p, size_t(length));
                o += length;
            }
            p += length;
        }
        // The plain run up to the next byte to look at.
        if constexpr (!Decode) {
            p = findStringSpecial(p, m_end);
        } else {
            decodeRun(p, m_end, o);
            while (p < m_end && JsonReader::isPlainStringByte(*p))
                *o++ = *p++;
        }
    }
    if constexpr (Decode)
        text = QByteArrayView(out, o - out);
    m_p = p + 1;
    return true;
}

template <typename Out>
bool JsonReader::readStringInto(Out &out)
{
    QByteArrayView text;
    if (!scanString<true>(text))
        return false;
    assignString(out, text);
    return true;
}

bool JsonReader::readString(QByteArray &out)
{
    if (peek() != Type::String)
        return failed() ? false : fail(QStringLiteral("expected a string"), m_p);
    return readStringInto(out);
}

bool JsonReader::readString(std::string &out)
{
    out.clear();
    if (peek() != Type::String)
        return failed() ? false : fail(QStringLiteral("expected a string"), m_p);
    return readStringInto(out);
}

bool JsonReader::scanNumber(const char *&start, bool &integral)
{
    start = m_p;
    const char *p = m_p;
    auto digits = [&] {
        const char *from = p;
        while (p < m_end && *p >= '0' && *p <= '9')
            ++p;
        return p > from;
    };
    if (p < m_end && *p == '-')
        ++p;
    if (p < m_end && *p == '0') {
        ++p;
    } else if (!digits()) {
        return fail(QStringLiteral("invalid number"), start);
    }
    integral = true;
    if (p < m_end && *p == '.') {
        ++p;
        integral = false;
        if (!digits())
            return fail(QStringLiteral("invalid number"), start);
    }
    if (p < m_end && (*p == 'e' || *p == 'E')) {
        ++p;
        integral = false;
        if (p < m_end && (*p == '+' || *p == '-'))
            ++p;
        if (!digits())
            return fail(QStringLiteral("invalid number"), start);
    }
    m_p = p;
    return true;
}

JsonReader::IntegerRead JsonReader::readIntegerSlow(qint64 &out)
{
    if (peek() != Type::Number) {
        if (!failed())
            fail(QStringLiteral("expected a number"), m_p);
        return IntegerRead::Failed;
    }
    const char *start = nullptr;
    bool integral = false;
    if (!scanNumber(start, integral))
        return IntegerRead::Failed;
    if (!integral) {
        double ignored = 0;
        if (!parseDouble(start, m_p, ignored)) {
            fail(QStringLiteral("number out of range"), start);
            return IntegerRead::Failed;
        }
        return IntegerRead::NotInteger;
    }
    const bool negative = *start == '-';
    const char *digits = negative ? start + 1 : start;
    if (m_p - digits <= 18) { // cannot overflow: accumulate directly
        qint64 value = 0;
        for (const char *p = digits; p < m_p; ++p)
            value = value * 10 + (*p - '0');
        out = negative ? -value : value;
        return IntegerRead::Ok;
    }
    const auto [ptr, ec] = std::from_chars(start, m_p, out);
    if (ec == std::errc::result_out_of_range)
        return IntegerRead::OutOfRange;
    return ptr == m_p && ec == std::errc() ? IntegerRead::Ok : IntegerRead::NotInteger;
}

bool JsonReader::literal(const char *word, qsizetype size)
{
    if (m_end - m_p < size || std::memcmp(m_p, word, size_t(size)) != 0)
        return fail(QStringLiteral("invalid literal"), m_p);
    m_p += size;
    return true;
}

bool JsonReader::skipValue()
{
    return skip();
}

bool JsonReader::skipString()
{
    // Most strings have nothing to look at before their closing quote.
    const char *p = findStringSpecial(m_p + 1, m_end);
    if (Q_LIKELY(p < m_end && *p == '"')) {
        m_p = p + 1;
        return true;
    }
    QByteArrayView ignored;
    return scanString<false>(ignored);
}

bool JsonReader::skip()
{
    if (m_depth >= MaxDepth)
        return fail(QStringLiteral("nested deeper than %1 levels").arg(MaxDepth), m_p);
    std::string_view key;
    switch (peek()) {
    case Type::Object:
        enterObject();
        while (nextKey(key)) {
            if (!skip())
                return false;
        }
        return !failed();
    case Type::Array:
        enterArray();
        while (nextElement()) {
            if (!skip())
                return false;
        }
        return !failed();
    case Type::String: {
        QByteArrayView ignored;
        return scanString<false>(ignored);
    }
    case Type::Number: {
        const char *start = nullptr;
        bool integral = false;
        if (!scanNumber(start, integral))
            return false;
        // nlohmann rejects a double that overflows: so must skipping.
        double ignored = 0;
        if (!integral && !parseDouble(start, m_p, ignored))
            return fail(QStringLiteral("number out of range"), start);
        return true;
    }
    case Type::Bool:
        return *m_p == 't' ? literal("true", 4) : literal("false", 5);
    case Type::Null:
        return literal("null", 4);
    case Type::Invalid:
        break;
    }
    return false;
}

bool JsonReader::readValue(nlohmann::json &out)
{
    return valueInto(out);
}

bool JsonReader::valueInto(nlohmann::json &out)
{
    if (m_depth >= MaxDepth)
        return fail(QStringLiteral("nested deeper than %1 levels").arg(MaxDepth), m_p);
    switch (peek()) {
    case Type::Object: {
        enterObject();
        out = nlohmann::json::object();
        std::string_view key;
        while (nextKey(key)) {
            // A repeated name keeps the last value, as nlohmann does.
            if (!valueInto(out[std::string(key)]))
                return false;
        }
        return !failed();
    }
    case Type::Array: {
        enterArray();
        out = nlohmann::json::array();
        while (nextElement()) {
            out.push_back(nullptr);
            if (!valueInto(out.back()))
                return false;
        }
        return !failed();
    }
    case Type::String: {
        QByteArrayView text;
        if (!scanString<true>(text))
            return false;
        out = std::string(text.data(), size_t(text.size()));
        return true;
    }
    case Type::Number: {
        const char *start = nullptr;
        bool integral = false;
        if (!scanNumber(start, integral))
            return false;
        // Integers as nlohmann stores them: unsigned when not negative, a
        // double once they no longer fit.
        if (integral && *start != '-') {
            std::uint64_t value = 0;
            const auto [ptr, ec] = std::from_chars(start, m_p, value);
            if (ec == std::errc() && ptr == m_p) {
                out = value;
                return true;
            }
        } else if (integral) {
            std::int64_t value = 0;
            const auto [ptr, ec] = std::from_chars(start, m_p, value);
            if (ec == std::errc() && ptr == m_p) {
                out = value;
                return true;
            }
        }
        double value = 0;
        if (!parseDouble(start, m_p, value))
            return fail(QStringLiteral("number out of range"), start);
        out = value;
        return true;
    }
    case Type::Bool:
        if (*m_p == 't') {
            out = true;
            return literal("true", 4);
        }
        out = false;
        return literal("false", 5);
    case Type::Null:
        out = nullptr;
        return literal("null", 4);
    case Type::Invalid:
        break;
    }
    return false;
}

bool JsonReader::expectEnd()
{
    if (failed())
        return false;
    skipWhitespace();
    if (m_p != m_end)
        return fail(QStringLiteral("%1 after the JSON value").arg(describeByte(*m_p)), m_p);
    return true;
}

} // namespace sessionscope
