#include "server/edgesignals.h"

#include <QFile>
#include <QSet>
#include <QStringList>

#include <cmath>

namespace sessionscope {

namespace {

struct TypeName
{
    EdgeSignals::HeaderType type;
    const char *name;
};

constexpr TypeName kTypeNames[] = {
    {EdgeSignals::HeaderType::String, "string"},
    {EdgeSignals::HeaderType::Number, "number"},
    {EdgeSignals::HeaderType::Integer, "integer"},
    {EdgeSignals::HeaderType::Boolean, "boolean"},
};

std::optional<EdgeSignals::HeaderType> typeFromName(const std::string &name)
{
    for (const auto &t : kTypeNames) {
        if (name == t.name)
            return t.type;
    }
    return std::nullopt;
}

// RFC 9110 token characters: what a header name may be made of.
bool isHeaderName(const std::string &name)
{
    if (name.empty())
        return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
        if (!ok)
            return false;
    }
    return true;
}

// A header's text as the declared JSON type; null when it does not convert.
Json convert(const QByteArray &raw, EdgeSignals::HeaderType type)
{
    const QByteArray text = raw.trimmed();
    switch (type) {
    case EdgeSignals::HeaderType::String:
        return Json(wirejson::sanitizedUtf8(text).toStdString());
    case EdgeSignals::HeaderType::Number: {
        bool ok = false;
        const double d = text.toDouble(&ok);
        return ok && std::isfinite(d) ? Json(d) : Json(nullptr);
    }
    case EdgeSignals::HeaderType::Integer: {
        bool ok = false;
        const qlonglong n = text.toLongLong(&ok);
        return ok ? Json(qint64(n)) : Json(nullptr);
    }
    case EdgeSignals::HeaderType::Boolean: {
        const QByteArray lower = text.toLower();
        if (lower == "true" || lower == "1")
            return Json(true);
        if (lower == "false" || lower == "0")
            return Json(false);
        return Json(nullptr);
    }
    }
    return Json(nullptr);
}

Error signalsError(const QString &message)
{
    return Error::make(QStringLiteral("signals: ") + message);
}

QString keyText(const std::string &key)
{
    return QString::fromStdString(key);
}

} // namespace

std::optional<QByteArray> EdgeRequestFacts::header(QByteArrayView name) const
{
    std::optional<QByteArray> out;
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            out = h.second;
    }
    return out;
}

Result<EdgeSignals> EdgeSignals::fromSpec(const QString &spec)
{
    if (spec.startsWith(QLatin1String("static:"))) {
        const QByteArray text = spec.mid(7).toUtf8();
        auto value = wirejson::parse(text);
        if (!value)
            return signalsError(QStringLiteral("static:%1 is not JSON").arg(QString::fromUtf8(text)));
        return fixed(std::move(*value));
    }
    if (spec.isEmpty())
        return signalsError(QStringLiteral("give a signals file or static:JSON"));
    QFile file(spec);
    if (!file.open(QIODevice::ReadOnly))
        return signalsError(QStringLiteral("cannot read %1: %2").arg(spec, file.errorString()));
    const QByteArray text = file.read(MaxFileBytes + 1);
    if (text.size() > MaxFileBytes)
        return signalsError(QStringLiteral("%1 is larger than %2 bytes").arg(spec).arg(MaxFileBytes));
    auto parsed = fromJson(text);
    if (!parsed)
        return Error::make(parsed.error().message + QStringLiteral(" (in %1)").arg(spec));
    return parsed;
}

EdgeSignals EdgeSignals::fixed(Json value)
{
    EdgeSignals out;
    out.m_fixed = std::move(value);
    return out;
}

Result<EdgeSignals> EdgeSignals::fromJson(QByteArrayView text)
{
    const auto parsed = wirejson::parse(text);
    if (!parsed || !parsed->is_object())
        return signalsError(QStringLiteral("the file must be one JSON object"));
    EdgeSignals out;
    QSet<QString> keys;
    const auto claim = [&keys](const std::string &key) -> Result<void> {
        if (key.empty())
            return signalsError(QStringLiteral("a signal key is empty"));
        if (keys.contains(keyText(key)))
            return signalsError(QStringLiteral("the key \"%1\" is set twice").arg(keyText(key)));
        keys.insert(keyText(key));
        return {};
    };
    for (const auto &[name, value] : parsed->items()) {
        if (name == "static") {
            if (!value.is_object())
                return signalsError(QStringLiteral("\"static\" must be an object"));
            for (const auto &[key, v] : value.items()) {
                if (auto ok = claim(key); !ok)
                    return ok.error();
            }
            out.m_static = value;
        } else if (name == "fromHeaders") {
            if (!value.is_object())
                return signalsError(QStringLiteral("\"fromHeaders\" must map keys to header names"));
            for (const auto &[key, source] : value.items()) {
                if (auto ok = claim(key); !ok)
                    return ok.error();
                HeaderSignal signal{key, {}, HeaderType::String};
                std::string header;
                if (source.is_string()) {
                    header = source.get<std::string>();
                } else if (source.is_object() && source.contains("header") && source["header"].is_string()) {
                    header = source["header"].get<std::string>();
                    for (const auto &[field, fieldValue] : source.items()) {
                        if (field == "header")
                            continue;
                        const auto type =
                            field == "type" && fieldValue.is_string() ? typeFromName(fieldValue.get<std::string>())
                                                                      : std::nullopt;
                        if (!type) {
                            return signalsError(QStringLiteral("fromHeaders.%1: \"type\" is one of string, number, "
                                                               "integer, boolean (and nothing else may be set)")
                                                    .arg(keyText(key)));
                        }
                        signal.type = *type;
                    }
                } else {
                    return signalsError(
                        QStringLiteral("fromHeaders.%1 must be a header name or {\"header\", \"type\"}").arg(keyText(key)));
                }
                if (!isHeaderName(header))
                    return signalsError(QStringLiteral("fromHeaders.%1: \"%2\" is not a header name")
                                            .arg(keyText(key), QString::fromStdString(header)));
                signal.header = QByteArray::fromStdString(header).toLower();
                out.m_headers.append(std::move(signal));
            }
        } else if (name == "clientAddress") {
            if (!value.is_string())
                return signalsError(QStringLiteral("\"clientAddress\" must be the key that holds the address"));
            if (auto ok = claim(value.get<std::string>()); !ok)
                return ok.error();
            out.m_addressKey = value.get<std::string>();
        } else {
            return signalsError(QStringLiteral("unknown key \"%1\" (expected static, fromHeaders, clientAddress)")
                                    .arg(keyText(name)));
        }
    }
    return out;
}

Json EdgeSignals::valueFor(const EdgeRequestFacts &facts) const
{
    if (m_fixed)
        return *m_fixed;
    Json out = m_static;
    for (const HeaderSignal &signal : m_headers) {
        const auto raw = facts.header(signal.header);
        out[signal.key] = raw ? convert(*raw, signal.type) : Json(nullptr);
    }
    if (!m_addressKey.empty()) {
        QHostAddress address = facts.clientAddress;
        // A v4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        bool isV4 = false;
        const quint32 v4 = address.toIPv4Address(&isV4);
        if (isV4)
            address = QHostAddress(v4);
        out[m_addressKey] = address.isNull() ? Json(nullptr) : Json(address.toString().toStdString());
    }
    return out;
}

QString EdgeSignals::describe() const
{
    if (m_fixed)
        return QStringLiteral("static ") + QString::fromUtf8(wirejson::dump(*m_fixed));
    QStringList parts;
    for (const auto &[key, value] : m_static.items())
        parts << keyText(key) + QStringLiteral(" (static)");
    for (const HeaderSignal &signal : m_headers) {
        QString type;
        for (const auto &t : kTypeNames) {
            if (t.type == signal.type)
                type = QString::fromLatin1(t.name);
        }
        parts << QStringLiteral("%1 (header %2, %3)").arg(keyText(signal.key), QString::fromLatin1(signal.header), type);
    }
    if (!m_addressKey.empty())
        parts << keyText(m_addressKey) + QStringLiteral(" (client address)");
    return parts.isEmpty() ? QStringLiteral("{}") : parts.join(QLatin1String(", "));
}

} // namespace sessionscope
