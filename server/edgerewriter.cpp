#include "server/edgerewriter.h"

#include <QList>
#include <QString>

#include <cctype>

namespace sessionscope {

namespace {

// Path segments with empty and "." segments dropped and ".." applied, the way
// a WHATWG URL parser resolves them ('\' counts as '/', as it does there).
QList<QByteArray> resolvedSegments(QByteArrayView path, bool decodeFirst)
{
    QByteArray text = decodeFirst ? QByteArray::fromPercentEncoding(path.toByteArray()) : path.toByteArray();
    text.replace('\\', '/');
    QList<QByteArray> out;
    for (const QByteArray &raw : text.split('/')) {
        const QByteArray segment = decodeFirst ? raw : QByteArray::fromPercentEncoding(raw);
        if (segment.isEmpty() || segment == ".")
            continue;
        if (segment == "..") {
            if (!out.isEmpty())
                out.removeLast();
            continue;
        }
        out.append(segment);
    }
    return out;
}

// Literal segments compare case-insensitively; "" in the pattern is any one segment.
bool matches(const QList<QByteArray> &segments, std::initializer_list<const char *> pattern)
{
    if (segments.size() != qsizetype(pattern.size()))
        return false;
    qsizetype i = 0;
    for (const char *literal : pattern) {
        if (*literal && segments.at(i).compare(QByteArrayView(literal), Qt::CaseInsensitive) != 0)
            return false;
        ++i;
    }
    return true;
}

EdgeRewriter::Route routeOfSegments(const QList<QByteArray> &segments)
{
    if (matches(segments, {"api", "v1", "sessions"}))
        return EdgeRewriter::Route::CreateSession;
    if (matches(segments, {"realtime", "v1", "sessions", "", "in", "append"}))
        return EdgeRewriter::Route::AppendIn;
    return EdgeRewriter::Route::None;
}

bool isHex4(const char *p)
{
    for (int i = 0; i < 4; ++i) {
        if (!std::isxdigit(static_cast<unsigned char>(p[i])))
            return false;
    }
    return true;
}

char16_t hex4(const char *p)
{
    return char16_t(QByteArray(p, 4).toUShort(nullptr, 16));
}

bool isHighSurrogate(char16_t u)
{
    return u >= 0xD800 && u <= 0xDBFF;
}

bool isLowSurrogate(char16_t u)
{
    return u >= 0xDC00 && u <= 0xDFFF;
}

struct Scan
{
    QByteArray normalized; // lone surrogate escapes replaced by \ufffd
    bool mentionsKey = false;
};

// Walks the JSON text (valid or not) string by string: copies it with every
// lone surrogate escape as \ufffd (JSON.parse takes them, nlohmann does not),
// and notes whether any string, key or value, decodes to `key`.
Scan scan(const QByteArray &text, const QByteArray &key)
{
    static const QByteArray replacement = QStringLiteral("\uFFFD").toUtf8();
    Scan s;
    QByteArray &out = s.normalized;
    out.reserve(text.size());
    const char *p = text.constData();
    const qsizetype n = text.size();
    qsizetype i = 0;
    while (i < n) {
        if (p[i] != '"') {
            out.append(p[i++]);
            continue;
        }
        out.append(p[i++]);
        QByteArray decoded;
        const auto note = [&decoded, &key](QByteArrayView bytes) {
            if (decoded.size() <= key.size())
                decoded.append(bytes);
        };
        while (i < n && p[i] != '"') {
            if (p[i] != '\\' || i + 1 >= n) {
                note(QByteArrayView(p + i, 1));
                out.append(p[i++]);
                continue;
            }
            const char e = p[i + 1];
            if (e == 'u' && i + 6 <= n && isHex4(p + i + 2)) {
                const char16_t u = hex4(p + i + 2);
                const bool pair = isHighSurrogate(u) && i + 12 <= n && p[i + 6] == '\\' && p[i + 7] == 'u' &&
                                  isHex4(p + i + 8) && isLowSurrogate(hex4(p + i + 8));
                if (pair) {
                    const char16_t units[2] = {u, hex4(p + i + 8)};
                    note(QString::fromUtf16(units, 2).toUtf8());
                    out.append(p + i, 12);
                    i += 12;
                } else if (isHighSurrogate(u) || isLowSurrogate(u)) {
                    note(replacement);
                    out.append("\\ufffd");
                    i += 6;
                } else {
                    note(QString(QChar(u)).toUtf8());
                    out.append(p + i, 6);
                    i += 6;
                }
                continue;
            }
            char plain = e;
            switch (e) {
            case 'b': plain = '\b'; break;
            case 'f': plain = '\f'; break;
            case 'n': plain = '\n'; break;
            case 'r': plain = '\r'; break;
            case 't': plain = '\t'; break;
            default: break;
            }
            note(QByteArrayView(&plain, 1));
            out.append(p + i, 2);
            i += 2;
        }
        if (i < n)
            out.append(p[i++]); // the closing quote
        if (decoded == key)
            s.mentionsKey = true;
    }
    return s;
}

// The object at `key` of `parent`; nullptr when absent or something else (the
// proxy never makes a body valid that the upstream would refuse).
Json *objectAt(Json &parent, const char *key)
{
    auto it = parent.find(key);
    return it != parent.end() && it->is_object() ? &*it : nullptr;
}

// The clientData object in `container`, created when absent or null; nullptr
// when it is something else (no key can live in it).
Json *metadataIn(Json &container)
{
    auto it = container.find("metadata");
    if (it == container.end() || it->is_null()) {
        container["metadata"] = Json::object();
        return &container["metadata"];
    }
    return it->is_object() ? &*it : nullptr;
}

} // namespace

EdgeRewriter::EdgeRewriter(QString namespaceKey) : m_key(std::move(namespaceKey)), m_keyUtf8(m_key.toUtf8())
{
}

EdgeRewriter::Route EdgeRewriter::routeOf(QByteArrayView method, QByteArrayView encodedPath)
{
    if (method != "POST")
        return Route::None;
    const Route route = routeOfSegments(resolvedSegments(encodedPath, false));
    return route != Route::None ? route : routeOfSegments(resolvedSegments(encodedPath, true));
}

EdgeRewriter::Outcome EdgeRewriter::rewrite(Route route, const QByteArray &body, QByteArrayView contentEncoding,
                                            const Json &edgeValue) const
{
    Outcome outcome;
    if (route == Route::None)
        return outcome;
    const QByteArray encoding = contentEncoding.toByteArray().trimmed().toLower();
    if (!encoding.isEmpty() && encoding != "identity") {
        outcome.action = Outcome::Action::Refuse;
        outcome.status = 415;
        outcome.error = QStringLiteral("The edge proxy cannot read a request body with Content-Encoding %1")
                            .arg(QString::fromLatin1(encoding));
        return outcome;
    }
    if (body.isEmpty())
        return outcome;

    const Scan text = scan(wirejson::sanitizedUtf8(body), m_keyUtf8);
    auto parsed = wirejson::parse(text.normalized);
    if (!parsed) {
        if (text.mentionsKey) {
            outcome.action = Outcome::Action::Refuse;
            outcome.status = 400;
            outcome.error = QStringLiteral("Invalid JSON");
        }
        return outcome;
    }

    Json &root = *parsed;
    Json *container = nullptr;
    if (root.is_object()) {
        if (route == Route::AppendIn) {
            const auto kind = root.find("kind");
            if (kind != root.end() && *kind == "message")
                container = objectAt(root, "payload");
        } else if (Json *config = objectAt(root, "triggerConfig")) {
            container = objectAt(*config, "basePayload");
        }
    }
    Json *metadata = container ? metadataIn(*container) : nullptr;
    if (!metadata) {
        // Nowhere clientData could be read from. Still, a body that names the
        // key goes on re-serialized, so a parser that resolves duplicate keys
        // differently cannot find something the proxy did not see.
        if (text.mentionsKey) {
            outcome.action = Outcome::Action::Rewritten;
            outcome.body = wirejson::dump(*parsed);
        }
        return outcome;
    }
    const std::string key = m_key.toStdString();
    outcome.droppedClientValue = metadata->erase(key) > 0;
    (*metadata)[key] = edgeValue;
    outcome.action = Outcome::Action::Rewritten;
    outcome.body = wirejson::dump(root);
    return outcome;
}

} // namespace sessionscope
