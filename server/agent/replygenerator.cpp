#include "server/agent/replygenerator.h"

#include <QJsonDocument>
#include <QRandomGenerator>

namespace sessionscope {

namespace {

const QLatin1String kType("type");

QString randomNonce()
{
    static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    QString s;
    for (int i = 0; i < 8; ++i)
        s += QLatin1Char(alphabet[QRandomGenerator::global()->bounded(36)]);
    return s;
}

QString compactJson(const QJsonValue &value)
{
    // QJsonDocument holds only objects and arrays: wrap, then drop the brackets.
    const QByteArray wrapped = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(wrapped.mid(1, wrapped.size() - 2));
}

QJsonObject chunk(const char *type)
{
    return QJsonObject{{kType, QLatin1String(type)}};
}

QJsonObject chunk(const char *type, std::initializer_list<QPair<QString, QJsonValue>> fields)
{
    QJsonObject o(fields);
    o.insert(kType, QLatin1String(type));
    return o;
}

} // namespace

ReplyGenerator::ReplyGenerator(QString nonce) : m_nonce(nonce.isEmpty() ? randomNonce() : std::move(nonce)) {}

QString ReplyGenerator::nextId(QStringView prefix)
{
    return prefix.toString() + QLatin1Char('_') + m_nonce + QLatin1Char('_') + QString::number(++m_counter);
}

QStringList ReplyGenerator::splitWords(const QString &text)
{
    QStringList words;
    QString current;
    bool hasWord = false; // leading whitespace belongs to the first word
    for (const QChar c : text) {
        // A word ends where whitespace gives way to the next word.
        if (!c.isSpace() && hasWord && current.back().isSpace()) {
            words << current;
            current.clear();
        }
        hasWord = hasWord || !c.isSpace();
        current += c;
    }
    if (!current.isEmpty())
        words << current;
    return words;
}

QString ReplyGenerator::replyText(const AgentVersion &version, const ReplyRequest &request)
{
    switch (version.reply.mode) {
    case AgentReplyBehaviour::Mode::Echo:
        return QStringLiteral("You said: %1").arg(request.userText);
    case AgentReplyBehaviour::Mode::Fixed:
        return version.reply.text;
    case AgentReplyBehaviour::Mode::Scripted:
        if (version.reply.script.isEmpty())
            return {};
        return version.reply.script.at(request.answeredTurns % version.reply.script.size());
    }
    return {};
}

void ReplyGenerator::appendText(QList<QJsonObject> &out, QLatin1String kind, const QString &text)
{
    const QString id = nextId(kind == QLatin1String("text") ? u"txt" : u"rsn");
    const QString prefix = QString(kind) + QLatin1Char('-');
    out << QJsonObject{{kType, prefix + QLatin1String("start")}, {QStringLiteral("id"), id}};
    for (const QString &word : splitWords(text))
        out << QJsonObject{{kType, prefix + QLatin1String("delta")}, {QStringLiteral("id"), id},
                           {QStringLiteral("delta"), word}};
    out << QJsonObject{{kType, prefix + QLatin1String("end")}, {QStringLiteral("id"), id}};
}

void ReplyGenerator::appendToolInput(QList<QJsonObject> &out, const AgentToolCall &tool, const QString &callId)
{
    out << chunk("tool-input-start", {{QStringLiteral("toolCallId"), callId}, {QStringLiteral("toolName"), tool.name}});
    const QString input = compactJson(tool.input);
    // The model streams the input JSON in pieces; 16 characters is one "token".
    for (qsizetype i = 0; i < input.size(); i += 16)
        out << chunk("tool-input-delta",
                     {{QStringLiteral("toolCallId"), callId}, {QStringLiteral("inputTextDelta"), input.mid(i, 16)}});
    out << chunk("tool-input-available", {{QStringLiteral("toolCallId"), callId},
                                          {QStringLiteral("toolName"), tool.name},
                                          {QStringLiteral("input"), tool.input}});
}

QList<QJsonObject> ReplyGenerator::reply(const AgentVersion &version, const ReplyRequest &request)
{
    QList<QJsonObject> out;
    const AgentReplyBehaviour &behaviour = version.reply;
    const QString text = replyText(version, request);

    if (request.approval) {
        // The client answered an approval: the same assistant message goes on
        // with the tool's outcome, then the text.
        const ToolApprovalAnswer &a = *request.approval;
        out << chunk("start", {{QStringLiteral("messageId"), a.messageId}}) << chunk("start-step");
        if (a.approved) {
            const QJsonValue output = behaviour.tool ? behaviour.tool->output : QJsonValue(QJsonObject());
            out << chunk("tool-output-available",
                         {{QStringLiteral("toolCallId"), a.toolCallId}, {QStringLiteral("output"), output}});
        } else {
            out << chunk("tool-output-denied", {{QStringLiteral("toolCallId"), a.toolCallId}});
        }
        out << chunk("finish-step") << chunk("start-step");
        appendText(out, QLatin1String("text"),
                   a.approved ? text : QStringLiteral("The %1 call was denied, so I answer without it. %2").arg(a.toolName, text));
        out << chunk("finish-step") << chunk("finish", {{QStringLiteral("finishReason"), QStringLiteral("stop")}});
        return out;
    }

    out << chunk("start", {{QStringLiteral("messageId"), nextId(u"msg")}}) << chunk("start-step");
    if (request.history) {
        out << chunk("data-history", {{QStringLiteral("id"), nextId(u"hist")}, {QStringLiteral("data"), *request.history}});
    }
    if (behaviour.reasoning) {
        appendText(out, QLatin1String("reasoning"),
                   behaviour.reasoning->isEmpty()
                       ? QStringLiteral("The user wrote \"%1\" (message %2 of this chat); answering in %3 mode.")
                             .arg(request.userText)
                             .arg(request.historySize)
                             .arg(AgentReplyBehaviour::modeName(behaviour.mode))
                       : *behaviour.reasoning);
    }
    if (behaviour.tool) {
        const QString callId = nextId(u"call");
        appendToolInput(out, *behaviour.tool, callId);
        if (behaviour.tool->needsApproval) {
            out << chunk("tool-approval-request",
                         {{QStringLiteral("approvalId"), nextId(u"appr")}, {QStringLiteral("toolCallId"), callId}});
            out << chunk("finish-step") << chunk("finish", {{QStringLiteral("finishReason"), QStringLiteral("tool-calls")}});
            return out;
        }
        out << chunk("tool-output-available",
                     {{QStringLiteral("toolCallId"), callId}, {QStringLiteral("output"), behaviour.tool->output}});
        out << chunk("finish-step") << chunk("start-step");
    }
    appendText(out, QLatin1String("text"), text);
    out << chunk("finish-step") << chunk("finish", {{QStringLiteral("finishReason"), QStringLiteral("stop")}});
    return out;
}

QList<QJsonObject> ReplyGenerator::contractError(const QJsonObject &details)
{
    return {chunk("start", {{QStringLiteral("messageId"), nextId(u"msg")}}),
            chunk("start-step"),
            chunk("data-contract-error", {{QStringLiteral("id"), nextId(u"err")}, {QStringLiteral("data"), details}}),
            chunk("finish-step"),
            chunk("finish", {{QStringLiteral("finishReason"), QStringLiteral("error")}})};
}

QList<QJsonObject> ReplyGenerator::actionReply(const QJsonValue &action)
{
    QList<QJsonObject> out;
    out << chunk("start", {{QStringLiteral("messageId"), nextId(u"msg")}}) << chunk("start-step");
    out << chunk("data-action", {{QStringLiteral("id"), nextId(u"act")}, {QStringLiteral("data"), QJsonObject{{QStringLiteral("action"), action}}}});
    const QJsonObject a = action.toObject();
    const QString name = a.value(QLatin1String("type")).toString(a.value(QLatin1String("name")).toString());
    appendText(out, QLatin1String("text"),
               name.isEmpty() ? QStringLiteral("Action received.") : QStringLiteral("Action %1 received.").arg(name));
    out << chunk("finish-step") << chunk("finish", {{QStringLiteral("finishReason"), QStringLiteral("stop")}});
    return out;
}

} // namespace sessionscope
