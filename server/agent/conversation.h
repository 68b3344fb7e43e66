#pragma once

#include "net/result.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

// The agent's memory of one chat: UIMessages ({id, role, parts}) in order.
// User messages come from `.in`; assistant messages are rebuilt from the
// UIMessageChunks the agent streamed, the way the AI SDK's reducer does, so a
// snapshot of it is exactly what a client saw.
class Conversation
{
public:
    const QList<QJsonObject> &messages() const { return m_messages; }
    qsizetype size() const { return m_messages.size(); }
    bool isEmpty() const { return m_messages.isEmpty(); }

    // A message with an id already present replaces it in place (a client
    // resending an assistant message with a tool approval answered).
    void upsertMessage(const QJsonObject &message);

    // Feed one streamed chunk. `start` opens (or continues, same messageId) an
    // assistant message; part chunks land in its parts.
    void applyChunk(const QJsonObject &chunk);

    // For regenerate-message: everything after the last user message goes.
    void dropAfterLastUserMessage();

    std::optional<QJsonObject> lastUserMessage() const;
    std::optional<QJsonObject> lastMessage() const;

    // The concatenated text parts of a UIMessage.
    static QString textOf(const QJsonObject &message);
    // A short one-line-per-message rendering, for the history data part.
    QJsonArray summary() const;

    QJsonArray toJson() const;
    static Result<Conversation> fromJson(const QJsonValue &value);

private:
    QJsonObject *openAssistant();
    void setPart(qsizetype index, const QJsonObject &part);
    qsizetype findPart(const QString &key) const;

    QList<QJsonObject> m_messages;
    // Streaming state of the open assistant message: chunk id -> part index.
    QHash<QString, qsizetype> m_partIndex;
    qsizetype m_openAssistant = -1;
};

} // namespace sessionscope
