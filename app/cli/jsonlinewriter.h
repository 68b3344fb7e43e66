#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QByteArrayView>

#include <cstdio>
#include <string>

namespace sessionscope {

// Newline-delimited JSON onto a FILE*, built by hand into one reused buffer:
// `decode` writes a line per record and must keep up with 100 MB captures.
class JsonLineWriter
{
public:
    explicit JsonLineWriter(std::FILE *out, qsizetype flushAt = 64 * 1024);
    ~JsonLineWriter();
    JsonLineWriter(const JsonLineWriter &) = delete;
    JsonLineWriter &operator=(const JsonLineWriter &) = delete;

    // Members of the current line's object, in call order.
    JsonLineWriter &field(const char *key, qint64 value);
    JsonLineWriter &field(const char *key, QByteArrayView utf8);
    JsonLineWriter &field(const char *key, const QByteArray &utf8) { return field(key, QByteArrayView(utf8)); }
    JsonLineWriter &field(const char *key, const QString &text);
    JsonLineWriter &nullField(const char *key);
    // Closes the object and the line.
    void endLine();

    // {"error":"...","seq":N} (seq only when known), flushed at once.
    void writeError(const Error &error);
    // {"warning":"..."}, flushed at once.
    void writeWarning(const QString &text);

    void flush();

    static void appendString(std::string &out, QByteArrayView utf8);

private:
    void key(const char *key);

    std::FILE *m_out;
    qsizetype m_flushAt;
    std::string m_buffer; // cheaper appends than QByteArray on this hot path
    bool m_inLine = false;
};

} // namespace sessionscope
