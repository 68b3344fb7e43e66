#include "server/agent/conversation.h"

namespace sessionscope {

namespace {

const QLatin1String kParts("parts");
const QLatin1String kType("type");

QString keyFor(QLatin1String kind, const QString &id)
{
    return kind + QLatin1Char(':') + id;
}

} // namespace

void Conversation::upsertMessage(const QJsonObject &message)
{
    const QString id = message.value(QLatin1String("id")).toString();
    for (qsizetype i = 0; i < m_messages.size(); ++i) {
        if (!id.isEmpty() && m_messages[i].value(QLatin1String("id")).toString() == id) {
            m_messages[i] = message;
            if (i == m_openAssistant)
                m_partIndex.clear();
            return;
        }
    }
    m_messages.append(message);
    m_openAssistant = -1;
    m_partIndex.clear();
}

QJsonObject *Conversation::openAssistant()
{
    if (m_openAssistant < 0 || m_openAssistant >= m_messages.size())
        return nullptr;
    return &m_messages[m_openAssistant];
}

qsizetype Conversation::findPart(const QString &key) const
{
    return m_partIndex.value(key, -1);
}

void Conversation::setPart(qsizetype index, const QJsonObject &part)
{
    QJsonObject *message = openAssistant();
    if (!message)
        return;
    QJsonArray parts = message->value(kParts).toArray();
    if (index < 0 || index >= parts.size())
        parts.append(part);
    else
        parts[index] = part;
    message->insert(kParts, parts);
}

void Conversation::applyChunk(const QJsonObject &chunk)
{
    const QString type = chunk.value(kType).toString();
    if (type == QLatin1String("start")) {
        const QString id = chunk.value(QLatin1String("messageId")).toString();
        for (qsizetype i = m_messages.size() - 1; i >= 0; --i) {
            if (!id.isEmpty() && m_messages[i].value(QLatin1String("id")).toString() == id
                && m_messages[i].value(QLatin1String("role")).toString() == QLatin1String("assistant")) {
                m_openAssistant = i;
                m_partIndex.clear();
                // Continuing a message (tool approval): index its tool parts again.
                const QJsonArray parts = m_messages[i].value(kParts).toArray();
                for (qsizetype p = 0; p < parts.size(); ++p) {
                    const QString call = parts[p].toObject().value(QLatin1String("toolCallId")).toString();
                    if (!call.isEmpty())
                        m_partIndex.insert(keyFor(QLatin1String("tool"), call), p);
                }
                return;
            }
        }
        m_messages.append(QJsonObject{{QStringLiteral("id"), id},
                                      {QStringLiteral("role"), QStringLiteral("assistant")},
                                      {kParts, QJsonArray()}});
        m_openAssistant = m_messages.size() - 1;
        m_partIndex.clear();
        return;
    }
    QJsonObject *message = openAssistant();
    if (!message)
        return; // a part outside a message: nothing to attach it to
    const qsizetype partCount = message->value(kParts).toArray().size();
    const auto partAt = [message](qsizetype i) { return message->value(kParts).toArray().at(i).toObject(); };

    if (type == QLatin1String("start-step")) {
        setPart(-1, QJsonObject{{kType, QStringLiteral("step-start")}});
        return;
    }
    for (QLatin1String kind : {QLatin1String("text"), QLatin1String("reasoning")}) {
        if (!type.startsWith(kind + QLatin1Char('-')))
            continue;
        const QString key = keyFor(kind, chunk.value(QLatin1String("id")).toString());
        const QStringView phase = QStringView(type).mid(kind.size() + 1);
        if (phase == u"start") {
            m_partIndex.insert(key, partCount);
            setPart(-1, QJsonObject{{kType, kind}, {QStringLiteral("text"), QString()},
                                    {QStringLiteral("state"), QStringLiteral("streaming")}});
        } else if (const qsizetype i = findPart(key); i >= 0) {
            QJsonObject part = partAt(i);
            if (phase == u"delta")
                part.insert(QStringLiteral("text"), part.value(QLatin1String("text")).toString()
                                                        + chunk.value(QLatin1String("delta")).toString());
            else if (phase == u"end")
                part.insert(QStringLiteral("state"), QStringLiteral("done"));
            setPart(i, part);
        }
        return;
    }
    if (type.startsWith(QLatin1String("tool-"))) {
        const QString call = chunk.value(QLatin1String("toolCallId")).toString();
        const QString key = keyFor(QLatin1String("tool"), call);
        qsizetype i = findPart(key);
        if (type == QLatin1String("tool-input-start")) {
            m_partIndex.insert(key, partCount);
            setPart(-1, QJsonObject{{kType, QLatin1String("tool-") + chunk.value(QLatin1String("toolName")).toString()},
                                    {QStringLiteral("toolCallId"), call},
                                    {QStringLiteral("state"), QStringLiteral("input-streaming")}});
            return;
        }
        if (i < 0)
            return;
        QJsonObject part = partAt(i);
        if (type == QLatin1String("tool-input-available")) {
            part.insert(QStringLiteral("state"), QStringLiteral("input-available"));
            part.insert(QStringLiteral("input"), chunk.value(QLatin1String("input")));
        } else if (type == QLatin1String("tool-approval-request")) {
            part.insert(QStringLiteral("state"), QStringLiteral("approval-requested"));
            part.insert(QStringLiteral("approval"),
                        QJsonObject{{QStringLiteral("id"), chunk.value(QLatin1String("approvalId"))}});
        } else if (type == QLatin1String("tool-output-available")) {
            part.insert(QStringLiteral("state"), QStringLiteral("output-available"));
            part.insert(QStringLiteral("output"), chunk.value(QLatin1String("output")));
        } else if (type == QLatin1String("tool-output-denied")) {
            part.insert(QStringLiteral("state"), QStringLiteral("output-denied"));
        } else {
            return; // tool-input-delta: the input arrives whole with input-available
        }
        setPart(i, part);
        return;
    }
    if (type.startsWith(QLatin1String("data-"))) {
        QJsonObject part{{kType, type}, {QStringLiteral("data"), chunk.value(QLatin1String("data"))}};
        const QString id = chunk.value(QLatin1String("id")).toString();
        if (!id.isEmpty())
            part.insert(QStringLiteral("id"), id);
        const QString key = keyFor(QLatin1String("data"), type + QLatin1Char('/') + id);
        const qsizetype existing = id.isEmpty() ? -1 : findPart(key);
        if (existing < 0 && !id.isEmpty())
            m_partIndex.insert(key, partCount);
        setPart(existing, part);
        return;
    }
    if (type == QLatin1String("finish") || type == QLatin1String("abort")) {
        m_openAssistant = -1;
        m_partIndex.clear();
    }
    // finish-step and error carry nothing a message keeps.
}

void Conversation::dropAfterLastUserMessage()
{
    for (qsizetype i = m_messages.size() - 1; i >= 0; --i) {
        if (m_messages[i].value(QLatin1String("role")).toString() == QLatin1String("user")) {
            m_messages.resize(i + 1);
            break;
        }
    }
    m_openAssistant = -1;
    m_partIndex.clear();
}

std::optional<QJsonObject> Conversation::lastUserMessage() const
{
    for (qsizetype i = m_messages.size() - 1; i >= 0; --i) {
        if (m_messages[i].value(QLatin1String("role")).toString() == QLatin1String("user"))
            return m_messages[i];
    }
    return std::nullopt;
}

std::optional<QJsonObject> Conversation::lastMessage() const
{
    if (m_messages.isEmpty())
        return std::nullopt;
    return m_messages.last();
}

QString Conversation::textOf(const QJsonObject &message)
{
    QString text;
    for (const QJsonValue &part : message.value(kParts).toArray()) {
        const QJsonObject p = part.toObject();
        if (p.value(kType).toString() == QLatin1String("text")) {
            if (!text.isEmpty())
                text += QLatin1Char('\n');
            text += p.value(QLatin1String("text")).toString();
        }
    }
    return text;
}

QJsonArray Conversation::summary() const
{
    QJsonArray out;
    for (const QJsonObject &m : m_messages) {
        out.append(QJsonObject{{QStringLiteral("id"), m.value(QLatin1String("id"))},
                               {QStringLiteral("role"), m.value(QLatin1String("role"))},
                               {QStringLiteral("text"), textOf(m)}});
    }
    return out;
}

QJsonArray Conversation::toJson() const
{
    QJsonArray out;
    for (const QJsonObject &m : m_messages)
        out.append(m);
    return out;
}

Result<Conversation> Conversation::fromJson(const QJsonValue &value)
{
    if (!value.isArray())
        return Error::make(QStringLiteral("a conversation must be an array of UIMessages"));
    Conversation c;
    for (const QJsonValue &m : value.toArray()) {
        const QJsonObject o = m.toObject();
        if (!m.isObject() || !o.value(QLatin1String("role")).isString() || !o.value(kParts).isArray())
            return Error::make(QStringLiteral("a conversation message must be {id, role, parts[]}"));
        c.m_messages.append(o);
    }
    return c;
}

} // namespace sessionscope
