#include "server/wirejson.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QTimeZone>

#include <cmath>

namespace sessionscope::wirejson {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Whether no array or object in `text` nests deeper than MaxDepth. Counted
// on the raw text (brackets inside strings do not count) so a hostile body
// never reaches the parser.
bool withinDepth(QByteArrayView text)
{
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    for (const char c : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > MaxDepth)
                return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

bool isCont(uchar c)
{
    return (c & 0xC0) == 0x80;
}

// Length of the valid UTF-8 sequence at p, or 0 with *bad set to the length of
// the maximal invalid subpart (at least 1), per the Unicode "best practice" that
// TextDecoder follows.
int utf8Sequence(const uchar *p, qsizetype n, int *bad)
{
    const uchar c = p[0];
    int len;
    uchar lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    int i = 1;
    for (; i < len; ++i) {
        if (i >= n) {
            *bad = i;
            return 0;
        }
        const uchar b = p[i];
        const bool ok = i == 1 ? (b >= lo && b <= hi) : isCont(b);
        if (!ok) {
            *bad = i;
            return 0;
        }
    }
    return len;
}

void appendEscape(QByteArray &out, uchar c)
{
    switch (c) {
    case '"':
        out.append("\\\"");
        return;
    case '\\':
        out.append("\\\\");
        return;
    case '\b':
        out.append("\\b");
        return;
    case '\f':
        out.append("\\f");
        return;
    case '\n':
        out.append("\\n");
        return;
    case '\r':
        out.append("\\r");
        return;
    case '\t':
        out.append("\\t");
        return;
    default:
        break;
    }
    const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
    out.append(u, 6);
}

} // namespace

void appendQuoted(QByteArray &out, QByteArrayView bytes, InvalidUtf8 mode)
{
    const auto *p = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype n = bytes.size();
    out.reserve(out.size() + n + 2);
    out.append('"');
    qsizetype runStart = 0;
    qsizetype i = 0;
    auto flush = [&] {
        if (i > runStart)
            out.append(reinterpret_cast<const char *>(p + runStart), i - runStart);
    };
    while (i < n) {
        const uchar c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        if (c < 0x80) {
            flush();
            appendEscape(out, c);
            runStart = ++i;
            continue;
        }
        int bad = 0;
        const int len = utf8Sequence(p + i, n - i, &bad);
        if (len > 0) {
            i += len;
            continue;
        }
        flush();
        if (mode == InvalidUtf8::Replace) {
            out.append("\xEF\xBF\xBD");
            i += bad;
        } else {
            const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
            out.append(u, 6);
            ++i;
        }
        runStart = i;
    }
    flush();
    out.append('"');
}

QByteArray quoted(QByteArrayView bytes, InvalidUtf8 mode)
{
    QByteArray out;
    appendQuoted(out, bytes, mode);
    return out;
}

bool isValidUtf8(QByteArrayView bytes)
{
    const auto *p = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype n = bytes.size();
    for (qsizetype i = 0; i < n;) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        int bad = 0;
        const int len = utf8Sequence(p + i, n - i, &bad);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

QByteArray sanitizedUtf8(QByteArrayView bytes)
{
    if (isValidUtf8(bytes))
        return bytes.toByteArray();
    const auto *p = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype n = bytes.size();
    QByteArray out;
    out.reserve(n + 8);
    for (qsizetype i = 0; i < n;) {
        int bad = 0;
        const int len = p[i] < 0x80 ? 1 : utf8Sequence(p + i, n - i, &bad);
        if (len > 0) {
            out.append(reinterpret_cast<const char *>(p + i), len);
            i += len;
        } else {
            out.append("\xEF\xBF\xBD");
            i += bad;
        }
    }
    return out;
}

QByteArray isoDate(qint64 msSinceEpoch)
{
    return QDateTime::fromMSecsSinceEpoch(msSinceEpoch, Qt::UTC)
        .toString(Qt::ISODateWithMs)
        .toLatin1();
}

std::optional<qint64> parseDate(const Json &value)
{
    if (value.is_number()) {
        // A JavaScript Date holds at most 8.64e15 ms either side of the
        // epoch; beyond that (or NaN) `new Date(n)` is an Invalid Date.
        const double d = value.get<double>();
        if (!(std::abs(d) <= 8.64e15))
            return std::nullopt;
        return value.is_number_float() ? qint64(d) : value.get<qint64>();
    }
    if (!value.is_string())
        return std::nullopt;
    const QString text = QString::fromStdString(value.get<std::string>()).trimmed();
    QDateTime dt = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!dt.isValid())
        dt = QDateTime::fromString(text, Qt::ISODate);
    if (!dt.isValid())
        return std::nullopt;
    // A date without a zone is read as UTC so the server's zone never matters.
    if (dt.timeSpec() == Qt::LocalTime && !text.contains(QLatin1Char('T')))
        dt.setTimeSpec(Qt::UTC);
    return dt.toMSecsSinceEpoch();
}

QByteArray dump(const Json &value)
{
    const std::string s = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    return QByteArray(s.data(), qsizetype(s.size()));
}

std::optional<Json> parse(QByteArrayView text)
{
    if (!withinDepth(text))
        return std::nullopt;
    Json out = Json::parse(text.begin(), text.end(), nullptr, false);
    if (out.is_discarded())
        return std::nullopt;
    return out;
}

QJsonObject toQt(const Json &object)
{
    if (!object.is_object())
        return {};
    return QJsonDocument::fromJson(dump(object)).object();
}

Json fromQt(const QJsonObject &object)
{
    auto parsed = parse(QJsonDocument(object).toJson(QJsonDocument::Compact));
    return parsed ? *parsed : Json::object();
}

Json stringArray(const QStringList &list)
{
    Json out = Json::array();
    for (const QString &s : list)
        out.push_back(s.toStdString());
    return out;
}

QStringList toStringList(const Json &array)
{
    QStringList out;
    if (!array.is_array())
        return out;
    for (const auto &v : array) {
        if (v.is_string())
            out << QString::fromStdString(v.get<std::string>());
    }
    return out;
}

} // namespace sessionscope::wirejson
