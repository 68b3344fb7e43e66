#pragma once

#include "net/result.h"

#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

// The clientData keys an agent version requires, each with its JSON type.
// It plays the part of a chat.agent's `clientDataSchema`: a turn whose
// clientData does not match is not answered.
class ClientDataSchema
{
public:
    enum class Type : quint8 { String, Number, Integer, Boolean, Object, Array };

    struct Field
    {
        QString key;
        Type type = Type::String;
        friend bool operator==(const Field &, const Field &) = default;
    };

    ClientDataSchema() = default;
    explicit ClientDataSchema(QList<Field> fields) : m_fields(std::move(fields)) {}

    // The default every version gets unless it says otherwise: {userId: string}.
    static ClientDataSchema defaultSchema();

    const QList<Field> &fields() const { return m_fields; }

    // Every required key present with its type; extra keys are allowed (the
    // contract markers protocolVersion/appVersion usually travel alongside).
    Result<void> validate(const QJsonValue &clientData) const;

    // "userId: string, protocolVersion: string", for error messages.
    QString describe() const;

    // {"userId": "string", ...}.
    QJsonObject toJson() const;
    static Result<ClientDataSchema> fromJson(const QJsonValue &value);

    static QString typeName(Type type);
    static std::optional<Type> typeFromName(QStringView name);
    static bool matches(const QJsonValue &value, Type type);

    friend bool operator==(const ClientDataSchema &, const ClientDataSchema &) = default;

private:
    QList<Field> m_fields;
};

} // namespace sessionscope
