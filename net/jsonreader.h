#pragma once

#include "net/bytescan.h"
#include "net/literal.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace sessionscope {

// A strict RFC 8259 JSON reader over UTF-8 bytes for the hot decode paths
// (S2 batches, record bodies). It pulls values one at a time, so a caller can
// fill its own structs without a JSON tree, and it validates everything it
// reads or skips: UTF-8 in strings, escapes, surrogate pairs, number syntax.
// It accepts exactly what nlohmann::json::parse accepts, several times faster.
//
// The first error stops it: every call then returns false / Invalid, and
// errorMessage() says what and where.
//
// The token-level calls are inline (a record costs a few dozen of them); every
// error path is out of line.
class JsonReader
{
public:
    enum class Type : quint8 { Invalid, Object, Array, String, Number, Bool, Null };

    static constexpr int MaxDepth = 512;

    explicit JsonReader(QByteArrayView json);

    // The type of the next value, without consuming it; Invalid at the end of
    // the input or after an error (which peek() itself may raise).
    Type peek()
    {
        if (m_failed)
            return Type::Invalid;
        skipWhitespace();
        if (Q_LIKELY(m_p < m_end)) {
            const Type type = typeOfByte(*m_p);
            if (Q_LIKELY(type != Type::Invalid))
                return type;
        }
        return failPeek();
    }

    // Objects: enterObject() consumes '{'; nextKey() returns each key and false
    // after the closing '}'. The key view is valid until the next call that
    // reads from this reader.
    bool enterObject() { return enter(Type::Object); }
    bool nextKey(std::string_view &key);
    // True when the last key had escapes: its view then points into the reader,
    // not into the input.
    bool keyDecoded() const { return m_keyDecoded; }
    // Arrays: enterArray() consumes '['; nextElement() says whether a value
    // follows, false after the closing ']'.
    bool enterArray() { return enter(Type::Array); }
    bool nextElement()
    {
        bool more = false;
        return !m_failed && separator(']', more) && more;
    }

    bool readString(QByteArray &out);
    bool readString(std::string &out);

    enum class IntegerRead : quint8 { Ok, NotInteger, OutOfRange, Failed };
    // An integral number that fits in qint64. NotInteger (a fraction or an
    // exponent) and OutOfRange consume the number; the reader stays usable.
    Q_ALWAYS_INLINE IntegerRead readInteger(qint64 &out)
    {
        // Up to 18 plain digits, the usual case, cannot overflow: no from_chars.
        if (!m_failed) {
            skipWhitespace();
            const char *p = m_p;
            const bool negative = p < m_end && *p == '-';
            p += negative;
            std::uint64_t value = 0;
            const int count = bytescan::digitRun(m_begin, p, m_end, value);
            const char *const after = p + count;
            const bool plain = count >= 1 && count <= 18 && (count == 1 || *p != '0');
            if (Q_LIKELY(plain && (after == m_end || !continuesNumber(*after)))) {
                m_p = after;
                out = negative ? -qint64(value) : qint64(value);
                return IntegerRead::Ok;
            }
        }
        return readIntegerSlow(out);
    }

    bool skipValue();
    // Skips the next value and views its text in the input.
    bool skipValue(QByteArrayView &text)
    {
        const Type type = peek();
        if (type == Type::Invalid)
            return false;
        const char *const start = m_p;
        if (type == Type::String && m_depth < MaxDepth ? !skipString() : !skip())
            return false;
        text = QByteArrayView(start, m_p - start);
        return true;
    }
    bool readValue(nlohmann::json &out);
    // Only whitespace may follow the top-level value.
    bool expectEnd();

    // Consumes `literal` when the input goes on with exactly those bytes, and
    // returns false (consuming nothing, raising no error) when it does not: for
    // a caller that expects one writer's compact layout and falls back to the
    // calls above otherwise. A container is read either this way or with the
    // enter/next calls, not both. `opens` says how many containers the literal
    // opens (negative: closes), so depth limits hold as with enterObject().
    template <std::size_t N>
    bool consumeLiteral(const char (&literal)[N], int opens = 0)
    {
        constexpr qsizetype size = N - 1;
        if (m_failed || m_end - m_p < size || !sameBytes<size>(m_p, literal))
            return false;
        m_p += size;
        m_depth += opens;
        return true;
    }
    // The same for `"name":` where the name has only plain bytes (no escapes).
    bool consumeKey(std::string_view &key)
    {
        if (m_failed || m_p >= m_end || *m_p != '"')
            return false;
        const char *p = m_p + 1;
        while (p < m_end && isPlainStringByte(*p))
            ++p;
        if (m_end - p < 2 || p[0] != '"' || p[1] != ':')
            return false;
        key = std::string_view(m_p + 1, size_t(p - m_p - 1));
        m_p = p + 2;
        return true;
    }

    // Bytes consumed so far; right after peek(), where the next value starts.
    qsizetype offset() const { return m_p - m_begin; }

    bool failed() const { return m_failed; }
    QString errorMessage() const { return m_error; }
    qsizetype errorOffset() const { return m_errorAt; }

    // "an object", "a string", ...: for messages about a value of the wrong type.
    static QString typeName(Type type);

    // A byte a string holds as it is: not the quote, the backslash, a control
    // character or a non-ASCII byte (those need a look).
    static bool isPlainStringByte(char c) { return PlainStringBytes[static_cast<unsigned char>(c)]; }

private:
    // What a value starting with each byte is; Invalid for bytes no value starts with.
    static constexpr auto ByteTypes = [] {
        std::array<Type, 256> table{};
        table['{'] = Type::Object;
        table['['] = Type::Array;
        table['"'] = Type::String;
        table['t'] = Type::Bool;
        table['f'] = Type::Bool;
        table['n'] = Type::Null;
        table['-'] = Type::Number;
        for (char c = '0'; c <= '9'; ++c)
            table[static_cast<unsigned char>(c)] = Type::Number;
        return table;
    }();
    static Type typeOfByte(char c) { return ByteTypes[static_cast<unsigned char>(c)]; }
    static constexpr auto PlainStringBytes = [] {
        std::array<bool, 256> table{};
        for (int c = 0x20; c < 0x80; ++c)
            table[c] = c != '"' && c != '\\';
        return table;
    }();
    Q_DECL_COLD_FUNCTION Type failPeek();
    Q_DECL_COLD_FUNCTION bool fail(const QString &reason, const char *at);
    Q_DECL_COLD_FUNCTION bool failUnexpected(const char *expected);
    Q_DECL_COLD_FUNCTION bool failEnter(Type type);
    bool readKeySlow(std::string_view &key);
    bool skipString();
    IntegerRead readIntegerSlow(qint64 &out);
    static bool continuesNumber(char c) { return unsigned(c - '0') < 10 || c == '.' || c == 'e' || c == 'E'; }

    void skipWhitespace()
    {
        // Compact JSON has none: one compare and out.
        while (m_p < m_end && static_cast<unsigned char>(*m_p) <= ' ' &&
               (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t'))
            ++m_p;
    }
    bool enter(Type type)
    {
        if (Q_UNLIKELY(peek() != type))
            return failEnter(type);
        ++m_p;
        ++m_depth;
        m_first = true;
        return true;
    }
    bool expectColon()
    {
        skipWhitespace();
        if (Q_UNLIKELY(m_p >= m_end || *m_p != ':'))
            return failUnexpected("':'");
        ++m_p;
        return true;
    }
    // After a member or element: ',' (more follow) or the closing bracket.
    bool separator(char close, bool &more)
    {
        skipWhitespace();
        if (Q_UNLIKELY(m_p >= m_end))
            return failUnexpected(nullptr);
        const bool first = m_first;
        m_first = false;
        if (*m_p == close) {
            ++m_p;
            --m_depth;
            more = false;
            return true;
        }
        if (!first) {
            if (Q_UNLIKELY(*m_p != ','))
                return failUnexpected(close == '}' ? "',' or '}'" : "',' or ']'");
            ++m_p;
        }
        more = true;
        return true;
    }

    bool literal(const char *word, qsizetype size);
    template <bool Decode>
    bool scanString(QByteArrayView &text);
    char *scratchFor(qsizetype bytes);
    template <typename Out>
    bool readStringInto(Out &out);
    bool scanNumber(const char *&start, bool &integral);
    bool valueInto(nlohmann::json &out);
    bool skip();

    const char *m_begin;
    const char *m_p;
    const char *m_end;
    std::string m_scratch; // decoded strings too long for m_inlineScratch
    int m_depth = 0;    // containers entered and not yet closed
    bool m_first = false; // at the first member / element of the container just entered
    bool m_keyDecoded = false;
    bool m_failed = false;
    QString m_error;
    qsizetype m_errorAt = -1;
    // Decoded strings (and keys) land here; most fit, so reading one
    // allocates nothing.
    char m_inlineScratch[1024];
};

// Keys are mostly short and plain: viewed in place, no copy.
inline bool JsonReader::nextKey(std::string_view &key)
{
    bool more = false;
    if (m_failed || !separator('}', more) || !more)
        return false;
    skipWhitespace();
    if (Q_UNLIKELY(m_p >= m_end || *m_p != '"'))
        return failUnexpected("a member name");
    const char *p = m_p + 1;
    while (p < m_end && isPlainStringByte(*p))
        ++p;
    if (Q_UNLIKELY(p >= m_end || *p != '"'))
        return readKeySlow(key);
    key = std::string_view(m_p + 1, size_t(p - m_p - 1));
    m_keyDecoded = false;
    m_p = p + 1;
    return expectColon();
}

} // namespace sessionscope
