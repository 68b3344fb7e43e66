#include "server/bodyvalidator.h"

#include "net/saturate.h"

#include <cmath>

namespace sessionscope {

BodyValidator::BodyValidator(const Json &root) : m_root(root)
{
    if (!root.is_object())
        fail(QString(), QStringLiteral("Expected object, received %1").arg(typeName(root)));
}

QString BodyValidator::typeName(const Json &value)
{
    switch (value.type()) {
    case Json::value_t::null:
        return QStringLiteral("null");
    case Json::value_t::boolean:
        return QStringLiteral("boolean");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
        return QStringLiteral("number");
    case Json::value_t::string:
        return QStringLiteral("string");
    case Json::value_t::array:
        return QStringLiteral("array");
    case Json::value_t::object:
        return QStringLiteral("object");
    default:
        return QStringLiteral("unknown");
    }
}

bool BodyValidator::has(const Json &object, const char *key) const
{
    return object.is_object() && object.contains(key);
}

void BodyValidator::fail(const QString &path, const QString &message)
{
    m_problems << (path.isEmpty() ? message : QStringLiteral("%1 at \"%2\"").arg(message, path));
}

QString BodyValidator::message() const
{
    return QStringLiteral("Validation error: ") + m_problems.join(QLatin1String("; "));
}

std::optional<QString> BodyValidator::string(const Json &object, const char *key,
                                             const QString &path, bool required, int minLength,
                                             int maxLength, bool trim)
{
    if (!has(object, key)) {
        if (required)
            fail(path, QStringLiteral("Required"));
        return std::nullopt;
    }
    const Json &v = object[key];
    if (!v.is_string()) {
        fail(path, QStringLiteral("Expected string, received %1").arg(typeName(v)));
        return std::nullopt;
    }
    QString s = QString::fromStdString(v.get<std::string>());
    if (trim)
        s = s.trimmed();
    // zod counts UTF-16 code units, as QString does.
    if (s.size() < minLength) {
        fail(path, QStringLiteral("String must contain at least %1 character(s)").arg(minLength));
        return std::nullopt;
    }
    if (maxLength >= 0 && s.size() > maxLength) {
        fail(path, QStringLiteral("String must contain at most %1 character(s)").arg(maxLength));
        return std::nullopt;
    }
    return s;
}

std::optional<qint64> BodyValidator::integer(const Json &object, const char *key,
                                             const QString &path, bool required,
                                             std::optional<qint64> min, std::optional<qint64> max)
{
    if (!has(object, key)) {
        if (required)
            fail(path, QStringLiteral("Required"));
        return std::nullopt;
    }
    const Json &v = object[key];
    if (!v.is_number()) {
        fail(path, QStringLiteral("Expected number, received %1").arg(typeName(v)));
        return std::nullopt;
    }
    const double d = v.get<double>();
    if (v.is_number_float() && d != std::floor(d)) {
        fail(path, QStringLiteral("Expected integer, received float"));
        return std::nullopt;
    }
    if (min && d < double(*min)) {
        fail(path, *min == 1
                       ? QStringLiteral("Number must be greater than 0")
                       : QStringLiteral("Number must be greater than or equal to %1").arg(*min));
        return std::nullopt;
    }
    if (max && d > double(*max)) {
        fail(path, QStringLiteral("Number must be less than or equal to %1").arg(*max));
        return std::nullopt;
    }
    return saturatedInt64(d); // zod's .int() takes 1e300 too
}

std::optional<QStringList> BodyValidator::stringArray(const Json &object, const char *key,
                                                      const QString &path, int maxItems,
                                                      int maxItemLength)
{
    if (!has(object, key))
        return std::nullopt;
    const Json &v = object[key];
    if (!v.is_array()) {
        fail(path, QStringLiteral("Expected array, received %1").arg(typeName(v)));
        return std::nullopt;
    }
    if (int(v.size()) > maxItems) {
        fail(path, QStringLiteral("Array must contain at most %1 element(s)").arg(maxItems));
        return std::nullopt;
    }
    QStringList out;
    bool good = true;
    for (size_t i = 0; i < v.size(); ++i) {
        const QString itemPath = QStringLiteral("%1[%2]").arg(path).arg(i);
        if (!v[i].is_string()) {
            fail(itemPath, QStringLiteral("Expected string, received %1").arg(typeName(v[i])));
            good = false;
            continue;
        }
        const QString s = QString::fromStdString(v[i].get<std::string>());
        if (s.size() > maxItemLength) {
            fail(itemPath,
                 QStringLiteral("String must contain at most %1 character(s)").arg(maxItemLength));
            good = false;
            continue;
        }
        out << s;
    }
    return good ? std::optional<QStringList>(out) : std::nullopt;
}

bool BodyValidator::object(const Json &object, const char *key, const QString &path, bool required,
                           bool nullable)
{
    if (!has(object, key)) {
        if (required)
            fail(path, QStringLiteral("Required"));
        return false;
    }
    const Json &v = object[key];
    if (v.is_object())
        return true;
    if (!(nullable && v.is_null()))
        fail(path, QStringLiteral("Expected object, received %1").arg(typeName(v)));
    return false;
}

std::optional<QString> BodyValidator::oneOf(const Json &object, const char *key,
                                            const QString &path, const QStringList &values)
{
    auto s = string(object, key, path, false);
    if (!s)
        return std::nullopt;
    if (!values.contains(*s)) {
        QStringList quoted;
        for (const QString &v : values)
            quoted << QStringLiteral("'%1'").arg(v);
        fail(path, QStringLiteral("Invalid enum value. Expected %1, received '%2'")
                       .arg(quoted.join(QLatin1String(" | ")), *s));
        return std::nullopt;
    }
    return s;
}

} // namespace sessionscope
