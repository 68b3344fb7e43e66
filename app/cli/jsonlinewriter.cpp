#include "app/cli/jsonlinewriter.h"

#include <charconv>

namespace sessionscope {

JsonLineWriter::JsonLineWriter(std::FILE *out, qsizetype flushAt) : m_out(out), m_flushAt(flushAt)
{
    m_buffer.reserve(size_t(flushAt) + 4096);
}

JsonLineWriter::~JsonLineWriter()
{
    flush();
}

void JsonLineWriter::appendString(std::string &out, QByteArrayView utf8)
{
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    const char *p = utf8.data();
    const char *const end = p + utf8.size();
    const char *run = p; // bytes that need no escape are copied in runs
    for (; p < end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(run, size_t(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            out.append("\\\"", 2);
            break;
        case '\\':
            out.append("\\\\", 2);
            break;
        case '\n':
            out.append("\\n", 2);
            break;
        case '\r':
            out.append("\\r", 2);
            break;
        case '\t':
            out.append("\\t", 2);
            break;
        default: {
            const char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            out.append(escaped, 6);
        }
        }
    }
    out.append(run, size_t(end - run));
    out.push_back('"');
}

void JsonLineWriter::key(const char *key)
{
    m_buffer.push_back(m_inLine ? ',' : '{');
    m_inLine = true;
    m_buffer.push_back('"');
    m_buffer.append(key);
    m_buffer.append("\":", 2);
}

JsonLineWriter &JsonLineWriter::field(const char *name, qint64 value)
{
    key(name);
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    m_buffer.append(digits, size_t(end - digits));
    return *this;
}

JsonLineWriter &JsonLineWriter::field(const char *name, QByteArrayView utf8)
{
    key(name);
    appendString(m_buffer, utf8);
    return *this;
}

JsonLineWriter &JsonLineWriter::field(const char *name, const QString &text)
{
    return field(name, QByteArrayView(text.toUtf8()));
}

JsonLineWriter &JsonLineWriter::nullField(const char *name)
{
    key(name);
    m_buffer.append("null", 4);
    return *this;
}

void JsonLineWriter::endLine()
{
    if (!m_inLine)
        m_buffer.push_back('{');
    m_buffer.append("}\n", 2);
    m_inLine = false;
    if (qsizetype(m_buffer.size()) >= m_flushAt)
        flush();
}

void JsonLineWriter::writeError(const Error &error)
{
    field("error", error.message);
    if (error.seq >= 0)
        field("seq", error.seq);
    endLine();
    flush();
}

void JsonLineWriter::writeWarning(const QString &text)
{
    field("warning", text);
    endLine();
    flush();
}

void JsonLineWriter::flush()
{
    if (!m_buffer.empty())
        std::fwrite(m_buffer.data(), 1, m_buffer.size(), m_out);
    std::fflush(m_out);
    m_buffer.clear();
}

} // namespace sessionscope
