#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <nlohmann/json_fwd.hpp>

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
class JsonReader
{
public:
    enum class Type : quint8 { Invalid, Object, Array, String, Number, Bool, Null };

    static constexpr int MaxDepth = 512;

    explicit JsonReader(QByteArrayView json);

    // The type of the next value, without consuming it; Invalid at the end of
    // the input or after an error (which peek() itself may raise).
    Type peek();

    // Objects: enterObject() consumes '{'; nextKey() returns each key and false
    // after the closing '}'. The key view is valid until the next call that
    // reads from this reader.
    bool enterObject();
    bool nextKey(std::string_view &key);
    // Arrays: enterArray() consumes '['; nextElement() says whether a value
    // follows, false after the closing ']'.
    bool enterArray();
    bool nextElement();

    bool readString(QByteArray &out);
    bool readString(std::string &out);

    enum class IntegerRead : quint8 { Ok, NotInteger, OutOfRange, Failed };
    // An integral number that fits in qint64. NotInteger (a fraction or an
    // exponent) and OutOfRange consume the number; the reader stays usable.
    IntegerRead readInteger(qint64 &out);

    bool skipValue();
    bool readValue(nlohmann::json &out);
    // Only whitespace may follow the top-level value.
    bool expectEnd();

    bool failed() const { return !m_error.isEmpty(); }
    QString errorMessage() const { return m_error; }
    qsizetype errorOffset() const { return m_errorAt; }

    // "an object", "a string", ...: for messages about a value of the wrong type.
    static QString typeName(Type type);

private:
    bool fail(const QString &reason, const char *at);
    bool enter(Type type);
    void skipWhitespace();
    bool expect(char c);
    bool literal(const char *word, qsizetype size);
    template <typename Out>
    bool readStringInto(Out &out);
    bool scanNumber(const char *&start, bool &integral);
    bool valueInto(nlohmann::json &out, int depth);
    bool skip(int depth);
    bool separator(char close, bool &more);

    const char *m_begin;
    const char *m_p;
    const char *m_end;
    std::string m_key;  // an escaped key, decoded
    std::string m_text; // a string on its way into a QByteArray
    bool m_first = false; // at the first member / element of the container just entered
    QString m_error;
    qsizetype m_errorAt = -1;
};

} // namespace sessionscope
