#include "server/agent/clientdataschema.h"

#include <QStringList>

#include <cmath>

namespace sessionscope {

namespace {

struct TypeName
{
    ClientDataSchema::Type type;
    const char *name;
};

constexpr TypeName kTypeNames[] = {
    {ClientDataSchema::Type::String, "string"},   {ClientDataSchema::Type::Number, "number"},
    {ClientDataSchema::Type::Integer, "integer"}, {ClientDataSchema::Type::Boolean, "boolean"},
    {ClientDataSchema::Type::Object, "object"},   {ClientDataSchema::Type::Array, "array"},
};

QString jsonTypeOf(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Null: return QStringLiteral("null");
    case QJsonValue::Bool: return QStringLiteral("boolean");
    case QJsonValue::Double: return QStringLiteral("number");
    case QJsonValue::String: return QStringLiteral("string");
    case QJsonValue::Array: return QStringLiteral("array");
    case QJsonValue::Object: return QStringLiteral("object");
    case QJsonValue::Undefined: break;
    }
    return QStringLiteral("missing");
}

} // namespace

ClientDataSchema ClientDataSchema::defaultSchema()
{
    return ClientDataSchema({Field{QStringLiteral("userId"), Type::String}});
}

QString ClientDataSchema::typeName(Type type)
{
    for (const auto &t : kTypeNames) {
        if (t.type == type)
            return QString::fromLatin1(t.name);
    }
    return {};
}

std::optional<ClientDataSchema::Type> ClientDataSchema::typeFromName(QStringView name)
{
    for (const auto &t : kTypeNames) {
        if (name == QLatin1String(t.name))
            return t.type;
    }
    return std::nullopt;
}

bool ClientDataSchema::matches(const QJsonValue &value, Type type)
{
    switch (type) {
    case Type::String: return value.isString();
    case Type::Number: return value.isDouble();
    case Type::Integer: {
        if (!value.isDouble())
            return false;
        const double d = value.toDouble();
        return std::isfinite(d) && std::floor(d) == d;
    }
    case Type::Boolean: return value.isBool();
    case Type::Object: return value.isObject();
    case Type::Array: return value.isArray();
    }
    return false;
}

Result<void> ClientDataSchema::validate(const QJsonValue &clientData) const
{
    if (m_fields.isEmpty())
        return {};
    if (!clientData.isObject()) {
        return Error::make(QStringLiteral("clientData must be an object with %1 (got %2)")
                               .arg(describe(), jsonTypeOf(clientData)));
    }
    const QJsonObject object = clientData.toObject();
    QStringList problems;
    for (const Field &field : m_fields) {
        const QJsonValue value = object.value(field.key);
        if (!matches(value, field.type)) {
            problems << QStringLiteral("%1 must be %2 (got %3)")
                            .arg(field.key, typeName(field.type), jsonTypeOf(value));
        }
    }
    if (!problems.isEmpty())
        return Error::make(QStringLiteral("clientData does not match the schema: ") + problems.join(QLatin1String("; ")));
    return {};
}

QString ClientDataSchema::describe() const
{
    QStringList parts;
    for (const Field &field : m_fields)
        parts << field.key + QLatin1String(": ") + typeName(field.type);
    return parts.join(QLatin1String(", "));
}

QJsonObject ClientDataSchema::toJson() const
{
    QJsonObject o;
    for (const Field &field : m_fields)
        o.insert(field.key, typeName(field.type));
    return o;
}

Result<ClientDataSchema> ClientDataSchema::fromJson(const QJsonValue &value)
{
    if (!value.isObject())
        return Error::make(QStringLiteral("clientDataSchema must be an object mapping keys to JSON types"));
    const QJsonObject object = value.toObject();
    QList<Field> fields;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (it.key().isEmpty())
            return Error::make(QStringLiteral("clientDataSchema has an empty key"));
        const auto type = typeFromName(it.value().toString());
        if (!it.value().isString() || !type) {
            return Error::make(QStringLiteral("clientDataSchema.%1 must be one of string, number, integer, "
                                              "boolean, object, array")
                                   .arg(it.key()));
        }
        fields.append(Field{it.key(), *type});
    }
    return ClientDataSchema(std::move(fields));
}

} // namespace sessionscope
