#pragma once

#include "net/streamrecord.h"

#include <QByteArrayView>
#include <QList>
#include <QString>

#include <nlohmann/json.hpp>

#include <iterator>
#include <optional>

namespace sessionscope {

// The conversation as the AI SDK's useChat shows it, rebuilt from stream
// records by ConversationReducer.

enum class MessageRole : quint8 { User, Assistant, System };

// The AI SDK's tool part states.
enum class ToolState : quint8 {
    InputStreaming,
    InputAvailable,
    ApprovalRequested,
    ApprovalResponded,
    OutputAvailable,
    OutputError,
    OutputDenied,
};

struct ToolCall
{
    QString toolCallId;
    QString toolName;
    ToolState state = ToolState::InputStreaming;
    QString inputText;     // tool-input-delta text while streaming; freed once input is known
    nlohmann::json input;  // null until known
    nlohmann::json output; // null until tool-output-available
    QString errorText;
    QString approvalId;
    bool providerExecuted = false;
    bool dynamic = false;     // a dynamic-tool part rather than tool-<name>
    bool preliminary = false; // the output is a preliminary one
};

struct MessagePart
{
    enum class Type : quint8 {
        Text,
        Reasoning,
        Tool,
        Data,           // data-<name>: dataType and data
        StepStart,      // start-step
        SourceUrl,      // data holds the chunk / part fields
        SourceDocument, // data holds the chunk / part fields
        File,           // data holds the chunk / part fields
        Other,          // a UIMessage part this build does not know; data holds it
    };

    Type type = Type::Text;
    QString id;        // text / reasoning / data part id
    QString text;      // Text, Reasoning: the concatenated deltas
    bool streaming = false; // Text, Reasoning: between -start and -end
    QString dataType;  // Data: "data-<name>"; Other: the part's type
    nlohmann::json data;
    ToolCall tool; // Tool
};

struct UIMessage
{
    QString id; // may be empty when a turn's chunks came without a `start`
    MessageRole role = MessageRole::Assistant;
    Channel channel = Channel::Out;
    QList<MessagePart> parts;
    qint64 firstSeq = -1;
    qint64 lastSeq = -1;
    qint64 firstTimestamp = 0;
    qint64 lastTimestamp = 0;
    bool streaming = false;  // assistant: chunks may still come
    bool aborted = false;    // assistant: an `abort` chunk ended it
    QString finishReason;    // assistant: from `finish`
    QString errorText;       // assistant: `error` chunks, one per line
    nlohmann::json metadata; // assistant: messageMetadata, merged
    QString trigger;         // user (.in): "submit-message", ...
    nlohmann::json clientData; // user (.in): payload.metadata

    QString text() const { return joined(MessagePart::Type::Text); }
    QString reasoning() const { return joined(MessagePart::Type::Reasoning); }

private:
    QString joined(MessagePart::Type type) const
    {
        QString out;
        for (const MessagePart &part : parts) {
            if (part.type == type)
                out += part.text;
        }
        return out;
    }
};

// One line of the merged story of a session: messages in conversation order
// (a late `.in` message goes above the answer it started, see
// ConversationReducer), interleaved with turn ends, upgrades, stops and actions.
struct TimelineEntry
{
    enum class Kind : quint8 {
        Message,         // a message opened; messageIndex names it
        TurnComplete,    // control record
        UpgradeRequired, // control record: the run was swapped for one on a newer version
        Control,         // a control record with another subtype
        Stop,            // .in: {kind:"stop"}; text holds its message
        Action,          // .in: trigger "action"; text holds the action JSON
        Trigger,         // .in: any other trigger (regenerate-message, preload, close, ...)
        Error,           // an `error` chunk; text holds errorText
        Abort,           // an `abort` chunk; text holds its reason
    };

    Kind kind = Kind::Message;
    Channel channel = Channel::Out;
    qint64 seq = -1;
    qint64 timestamp = 0;
    int messageIndex = -1;   // the message concerned, -1 when none
    QString subtype;         // control subtype or trigger name
    QString text;
    std::optional<QString> sessionInEventId; // control records, as sent
    bool tokenRefreshed = false; // the control record carried a new public access token
};

// The AI SDK's names for tool states ("input-streaming", ...).
inline constexpr const char *ToolStateNames[] = {
    "input-streaming", "input-available", "approval-requested", "approval-responded",
    "output-available", "output-error", "output-denied",
};

inline QString toolStateName(ToolState state)
{
    return QString::fromLatin1(ToolStateNames[int(state)]);
}

inline std::optional<ToolState> toolStateFromName(QByteArrayView name)
{
    for (int i = 0; i < int(std::size(ToolStateNames)); ++i) {
        if (name == ToolStateNames[i])
            return ToolState(i);
    }
    return std::nullopt;
}

inline QString roleName(MessageRole role)
{
    switch (role) {
    case MessageRole::User:
        return QStringLiteral("user");
    case MessageRole::Assistant:
        return QStringLiteral("assistant");
    case MessageRole::System:
        return QStringLiteral("system");
    }
    return {};
}

} // namespace sessionscope
