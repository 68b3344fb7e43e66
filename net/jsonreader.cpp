#include "net/jsonreader.h"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

namespace sessionscope {

namespace {

// How a byte inside a string is handled: 0 copied as is, 1 closing quote,
// 2 escape, 3 control character (invalid), 4 start of a multi-byte sequence.
constexpr auto StringClass = [] {
    std::array<quint8, 256> table{};
    for (int c = 0; c < 0x20; ++c)
        table[c] = 3;
    table['"'] = 1;
    table['\\'] = 2;
    for (int c = 0x80; c < 0x100; ++c)
        table[c] = 4;
    return table;
}();

void appendBytes(std::string &out, const char *data, qsizetype size)
{
    out.append(data, size_t(size));
}
struct Discard
{
};
void appendBytes(Discard &, const char *, qsizetype) {}
void appendByte(std::string &out, char c)
{
    out.push_back(c);
}
void appendByte(Discard &, char) {}

// The length of the well-formed UTF-8 sequence at p (Unicode table 3-7), or 0.
int utf8SequenceLength(const char *p, const char *end)
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

// Called before every token: inlined, and compact JSON (no whitespace) leaves at once.
Q_ALWAYS_INLINE void JsonReader::skipWhitespace()
{
    while (m_p < m_end && static_cast<unsigned char>(*m_p) <= ' ' &&
           (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t'))
        ++m_p;
}

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
    if (m_error.isEmpty()) {
        m_errorAt = at - m_begin;
        m_error = QStringLiteral("%1 at byte %2").arg(reason).arg(m_errorAt);
    }
    m_p = m_end;
    return false;
}



bool JsonReader::expect(char c)
{
    skipWhitespace();
    if (m_p >= m_end)
        return fail(QStringLiteral("unexpected end of input"), m_p);
    if (*m_p != c)
        return fail(describeByte(*m_p) + QStringLiteral(" where '%1' belongs").arg(QLatin1Char(c)), m_p);
    ++m_p;
    return true;
}

JsonReader::Type JsonReader::peek()
{
    if (failed())
        return Type::Invalid;
    skipWhitespace();
    if (m_p >= m_end) {
        fail(QStringLiteral("unexpected end of input"), m_p);
        return Type::Invalid;
    }
    switch (*m_p) {
    case '{':
        return Type::Object;
    case '[':
        return Type::Array;
    case '"':
        return Type::String;
    case 't':
    case 'f':
        return Type::Bool;
    case 'n':
        return Type::Null;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return Type::Number;
    default:
        fail(describeByte(*m_p), m_p);
        return Type::Invalid;
    }
}

bool JsonReader::enter(Type type)
{
    if (peek() != type)
        return failed() ? false : fail(QStringLiteral("expected %1").arg(typeName(type)), m_p);
    ++m_p;
    m_first = true;
    return true;
}

bool JsonReader::enterObject()
{
    return enter(Type::Object);
}

bool JsonReader::enterArray()
{
    return enter(Type::Array);
}

// After a member or element: ',' (more follow) or the closing bracket.
bool JsonReader::separator(char close, bool &more)
{
    skipWhitespace();
    if (m_p >= m_end)
        return fail(QStringLiteral("unexpected end of input"), m_p);
    const bool first = std::exchange(m_first, false);
    if (*m_p == close) {
        ++m_p;
        more = false;
        return true;
    }
    if (!first) {
        if (*m_p != ',')
            return fail(describeByte(*m_p) + QStringLiteral(" where ',' or '%1' belongs").arg(QLatin1Char(close)),
                        m_p);
        ++m_p;
    }
    more = true;
    return true;
}

bool JsonReader::nextKey(std::string_view &key)
{
    bool more = false;
    if (failed() || !separator('}', more) || !more)
        return false;
    skipWhitespace();
    if (m_p >= m_end || *m_p != '"')
        return fail(m_p >= m_end ? QStringLiteral("unexpected end of input")
                                 : describeByte(*m_p) + QStringLiteral(" where a member name belongs"),
                    m_p);
    // Most names are plain ASCII: viewed in place, no copy.
    const char *p = m_p + 1;
    while (p < m_end && StringClass[static_cast<unsigned char>(*p)] == 0)
        ++p;
    if (p < m_end && *p == '"') {
        key = std::string_view(m_p + 1, size_t(p - m_p - 1));
        m_p = p + 1;
    } else {
        m_key.clear();
        if (!readStringInto(m_key))
            return false;
        key = m_key;
    }
    return expect(':');
}

bool JsonReader::nextElement()
{
    bool more = false;
    return !failed() && separator(']', more) && more;
}

template <typename Out>
bool JsonReader::readStringInto(Out &out)
{
    const char *p = m_p + 1; // past the opening quote
    const char *run = p;
    for (;;) {
        while (p < m_end && StringClass[static_cast<unsigned char>(*p)] == 0)
            ++p;
        if (p >= m_end)
            return fail(QStringLiteral("unterminated string"), m_p);
        switch (StringClass[static_cast<unsigned char>(*p)]) {
        case 1:
            appendBytes(out, run, p - run);
            m_p = p + 1;
            return true;
        case 3:
            return fail(QStringLiteral("control character in a string"), p);
        case 4: {
            const int length = utf8SequenceLength(p, m_end);
            if (!length)
                return fail(QStringLiteral("invalid UTF-8 in a string"), p);
            p += length;
            break;
        }
        default: { // an escape
            appendBytes(out, run, p - run);
            if (p + 1 >= m_end)
                return fail(QStringLiteral("unterminated string"), m_p);
            char single = 0;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
                single = p[1];
                break;
            case 'b':
                single = '\b';
                break;
            case 'f':
                single = '\f';
                break;
            case 'n':
                single = '\n';
                break;
            case 'r':
                single = '\r';
                break;
            case 't':
                single = '\t';
                break;
            case 'u':
                break;
            default:
                return fail(QStringLiteral("invalid escape '\\%1'").arg(QLatin1Char(p[1])), p);
            }
            if (single) {
                appendByte(out, single);
                p += 2;
            } else {
                int unit = hex4(p + 2, m_end);
                if (unit < 0)
                    return fail(QStringLiteral("invalid \\u escape"), p);
                char32_t cp = char32_t(unit);
                p += 6;
                if (unit >= 0xDC00 && unit <= 0xDFFF)
                    return fail(QStringLiteral("unpaired surrogate in a \\u escape"), p - 6);
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    const int low = (m_end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, m_end) : -1;
                    if (low < 0xDC00 || low > 0xDFFF)
                        return fail(QStringLiteral("unpaired surrogate in a \\u escape"), p - 6);
                    cp = 0x10000 + ((char32_t(unit) - 0xD800) << 10) + (char32_t(low) - 0xDC00);
                    p += 6;
                }
                char utf8[4];
                appendBytes(out, utf8, encodeUtf8(cp, utf8));
            }
            run = p;
        }
        }
    }
}

bool JsonReader::readString(QByteArray &out)
{
    // Decoded into a std::string first: its appends are far cheaper than QByteArray's.
    if (!readString(m_text))
        return false;
    out = QByteArray(m_text.data(), qsizetype(m_text.size()));
    return true;
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

JsonReader::IntegerRead JsonReader::readInteger(qint64 &out)
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
    return skip(0);
}

bool JsonReader::skip(int depth)
{
    if (depth >= MaxDepth)
        return fail(QStringLiteral("nested deeper than %1 levels").arg(MaxDepth), m_p);
    std::string_view key;
    switch (peek()) {
    case Type::Object:
        enterObject();
        while (nextKey(key)) {
            if (!skip(depth + 1))
                return false;
        }
        return !failed();
    case Type::Array:
        enterArray();
        while (nextElement()) {
            if (!skip(depth + 1))
                return false;
        }
        return !failed();
    case Type::String: {
        Discard discard;
        return readStringInto(discard);
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
    return valueInto(out, 0);
}

bool JsonReader::valueInto(nlohmann::json &out, int depth)
{
    if (depth >= MaxDepth)
        return fail(QStringLiteral("nested deeper than %1 levels").arg(MaxDepth), m_p);
    switch (peek()) {
    case Type::Object: {
        enterObject();
        out = nlohmann::json::object();
        std::string_view key;
        while (nextKey(key)) {
            // A repeated name keeps the last value, as nlohmann does.
            if (!valueInto(out[std::string(key)], depth + 1))
                return false;
        }
        return !failed();
    }
    case Type::Array: {
        enterArray();
        out = nlohmann::json::array();
        while (nextElement()) {
            out.push_back(nullptr);
            if (!valueInto(out.back(), depth + 1))
                return false;
        }
        return !failed();
    }
    case Type::String: {
        std::string text;
        if (!readStringInto(text))
            return false;
        out = std::move(text);
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
