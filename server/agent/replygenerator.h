#pragma once

#include "server/agent/agentversion.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

// A client's answer to a tool-approval-request, read from the assistant
// message it resends (a tool part with approval {id, approved}).
struct ToolApprovalAnswer
{
    QString messageId; // the assistant message the approval belongs to
    QString toolCallId;
    QString toolName;
    bool approved = false;
};

// Everything a reply depends on besides the version.
struct ReplyRequest
{
    QString userText;      // the user message being answered
    int answeredTurns = 0; // turns answered before this one (picks the script line)
    int historySize = 0;   // messages in the conversation, this one included
    std::optional<QJsonObject> history; // set on a run's first turn after a takeover: data-history
    std::optional<ToolApprovalAnswer> approval;
};

// Turns a user message into the exact UIMessageChunk sequence chat.agent
// streams for one assistant turn (protocol.md, "UIMessageChunk order"), and
// hands out the ids that must stay unique on a session's `.out`: the record
// body id (the official SDK drops a record whose id it has already seen) and
// message, text, reasoning and tool-call ids.
class ReplyGenerator
{
public:
    // The nonce makes ids unique across runs and server restarts; empty
    // picks a random one.
    explicit ReplyGenerator(QString nonce = {});

    const QString &nonce() const { return m_nonce; }

    // A fresh id with the given prefix: "<prefix>_<nonce>_<n>".
    QString nextId(QStringView prefix);
    // The body id of the next data record.
    QString nextPartId() { return nextId(u"p"); }

    QList<QJsonObject> reply(const AgentVersion &version, const ReplyRequest &request);

    // A turn that answers with a data part instead of text: the contract the
    // client sent has no deployed version that supports it.
    QList<QJsonObject> contractError(const QJsonObject &details);

    // An action is not a turn: one short assistant message saying it ran.
    QList<QJsonObject> actionReply(const QJsonValue &action);

    // The text a version gives for one turn, before it is cut into chunks.
    static QString replyText(const AgentVersion &version, const ReplyRequest &request);
    // One chunk per word, the whitespace after a word kept with it.
    static QStringList splitWords(const QString &text);

private:
    void appendText(QList<QJsonObject> &out, QLatin1String kind, const QString &text);
    void appendToolInput(QList<QJsonObject> &out, const AgentToolCall &tool, const QString &callId);

    QString m_nonce;
    quint64 m_counter = 0;
};

} // namespace sessionscope
