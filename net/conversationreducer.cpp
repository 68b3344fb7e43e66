#include "net/conversationreducer.h"

#include <algorithm>

namespace sessionscope {

using json = nlohmann::json;

namespace {

enum Phase { Start, Delta, End };

std::optional<QString> stringField(const json &object, const char *key)
{
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string())
        return std::nullopt;
    const auto &text = it->get_ref<const std::string &>();
    return QString::fromUtf8(text.data(), qsizetype(text.size()));
}

bool boolField(const json &object, const char *key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

// session-in-event-id of a turn-complete entry, -1 when absent or not a seq.
qint64 turnInSeq(const TimelineEntry &entry)
{
    if (!entry.sessionInEventId)
        return -1;
    bool ok = false;
    const qint64 seq = entry.sessionInEventId->toLongLong(&ok);
    return ok ? seq : -1;
}

json valueField(const json &object, const char *key)
{
    const auto it = object.find(key);
    return it == object.end() ? json() : *it;
}

void mergeMetadata(json &into, const json &chunk)
{
    const auto it = chunk.find("messageMetadata");
    if (it == chunk.end() || it->is_null())
        return;
    if (into.is_object() && it->is_object())
        into.update(*it, true);
    else
        into = *it;
}

QString chunkName(const QByteArray &type)
{
    return QString::fromUtf8(type);
}

// A part of a complete UIMessage (as sent on `.in`), in our model.
MessagePart partFromUIMessage(const json &part)
{
    MessagePart out;
    const QString type = stringField(part, "type").value_or(QString());
    if (type == u"text" || type == u"reasoning") {
        out.type = type == u"text" ? MessagePart::Type::Text : MessagePart::Type::Reasoning;
        out.text = stringField(part, "text").value_or(QString());
        out.streaming = stringField(part, "state") == QStringLiteral("streaming");
    } else if (type == u"step-start") {
        out.type = MessagePart::Type::StepStart;
    } else if (type == u"file" || type == u"source-url" || type == u"source-document") {
        out.type = type == u"file"         ? MessagePart::Type::File
                   : type == u"source-url" ? MessagePart::Type::SourceUrl
                                           : MessagePart::Type::SourceDocument;
        out.data = part;
    } else if (type.startsWith(u"data-")) {
        out.type = MessagePart::Type::Data;
        out.dataType = type;
        out.id = stringField(part, "id").value_or(QString());
        out.data = valueField(part, "data");
    } else if (type.startsWith(u"tool-") || type == u"dynamic-tool") {
        out.type = MessagePart::Type::Tool;
        ToolCall &tool = out.tool;
        tool.dynamic = type == u"dynamic-tool";
        tool.toolName = tool.dynamic ? stringField(part, "toolName").value_or(QString()) : type.mid(5);
        tool.toolCallId = stringField(part, "toolCallId").value_or(QString());
        const QString state = stringField(part, "state").value_or(QString());
        tool.state = toolStateFromName(state.toUtf8()).value_or(ToolState::InputAvailable);
        tool.input = valueField(part, "input");
        tool.output = valueField(part, "output");
        tool.errorText = stringField(part, "errorText").value_or(QString());
        const json approval = valueField(part, "approval");
        if (approval.is_object())
            tool.approvalId = stringField(approval, "id").value_or(QString());
        tool.providerExecuted = boolField(part, "providerExecuted");
    } else {
        out.type = MessagePart::Type::Other;
        out.dataType = type;
        out.data = part;
    }
    return out;
}

} // namespace

void ConversationReducer::apply(const StreamRecord &record, Channel channel)
{
    if (record.kind != RecordKind::Data) {
        if (accept(record, channel) && record.kind == RecordKind::Control)
            applyControl(record, channel);
        return; // a command is opaque: it advances the cursor and nothing else
    }
    if (!accept(record, channel))
        return;
    const Result<DecodedBody> body = decodeBody(record);
    if (!body) {
        m_errors.append(body.error());
        return;
    }
    applyData(record, channel, *body);
}

void ConversationReducer::apply(const StreamRecord &record, Channel channel, const DecodedBody &body)
{
    if (record.kind != RecordKind::Data)
        apply(record, channel);
    else if (accept(record, channel))
        applyData(record, channel, body);
}

void ConversationReducer::applyData(const StreamRecord &record, Channel channel, const DecodedBody &body)
{
    if (body.channel() != channel) {
        fail(record, channel == Channel::Out
                         ? QStringLiteral("an .in-shaped body (data is a string) on .out")
                         : QStringLiteral("an .out-shaped body (data is an object) on .in"));
    }
    // The body's shape wins: it cannot be misread.
    if (body.channel() == Channel::In)
        applyIn(record, body, channel);
    else
        applyOut(record, body);
}

void ConversationReducer::applyBatch(const QList<StreamRecord> &records, Channel channel)
{
    for (const StreamRecord &record : records)
        apply(record, channel);
}

bool ConversationReducer::accept(const StreamRecord &record, Channel channel)
{
    qint64 &last = m_lastSeq[index(channel)];
    if (record.seqNum <= last) {
        ++m_duplicates;
        return false;
    }
    if (channel == Channel::In)
        m_previousInSeq = last;
    last = record.seqNum;
    ++m_appliedRecords;
    return true;
}

void ConversationReducer::applyControl(const StreamRecord &record, Channel channel)
{
    TimelineEntry entry;
    entry.channel = channel;
    entry.seq = record.seqNum;
    entry.timestamp = record.timestamp;
    entry.messageIndex = m_current;
    const QByteArray subtype = record.subtype();
    entry.subtype = QString::fromUtf8(subtype);
    const bool trigger =
        !record.headers.isEmpty() && record.headers.first().first == controlheader::TriggerControl;
    if (trigger && subtype == controlheader::TurnComplete)
        entry.kind = TimelineEntry::Kind::TurnComplete;
    else if (trigger && subtype == controlheader::UpgradeRequired)
        entry.kind = TimelineEntry::Kind::UpgradeRequired;
    else
        entry.kind = TimelineEntry::Kind::Control;
    if (const auto inSeq = sessionInEventId(record))
        entry.sessionInEventId = QString::fromUtf8(*inSeq);
    entry.tokenRefreshed = publicAccessToken(record).has_value();
    if (entry.kind == TimelineEntry::Kind::TurnComplete) {
        m_lastTurnInSeq = turnInSeq(entry);
        m_maxTurnInSeq = std::max(m_maxTurnInSeq, m_lastTurnInSeq);
    }
    endTurn();
    appendTimeline(std::move(entry));
}

void ConversationReducer::applyOut(const StreamRecord &record, const DecodedBody &body)
{
    const json &chunk = body.data;
    const QByteArray &type = body.chunkType;

    // Ordered by how often they occur.
    if (type == "text-delta") {
        textChunk(record, chunk, MessagePart::Type::Text, Delta);
    } else if (type == "reasoning-delta") {
        textChunk(record, chunk, MessagePart::Type::Reasoning, Delta);
    } else if (type.startsWith("tool-")) {
        toolChunk(record, chunk, type);
    } else if (type == "text-start") {
        textChunk(record, chunk, MessagePart::Type::Text, Start);
    } else if (type == "text-end") {
        textChunk(record, chunk, MessagePart::Type::Text, End);
    } else if (type == "reasoning-start") {
        textChunk(record, chunk, MessagePart::Type::Reasoning, Start);
    } else if (type == "reasoning-end") {
        textChunk(record, chunk, MessagePart::Type::Reasoning, End);
    } else if (type.startsWith("data-")) {
        dataChunk(record, chunk, type);
    } else if (type == "start") {
        const QString id = stringField(chunk, "messageId").value_or(QString());
        const auto known = id.isEmpty() ? m_messageById.constEnd() : m_messageById.constFind(id);
        if (known != m_messageById.constEnd() && m_messages[*known].role == MessageRole::Assistant) {
            // The AI SDK continues the message with that id (e.g. after a tool approval).
            if (m_current != *known) {
                endTurn();
                m_current = *known;
                for (qsizetype i = 0; i < m_messages[m_current].parts.size(); ++i) {
                    const MessagePart &part = m_messages[m_current].parts[i];
                    if (part.type == MessagePart::Type::Tool)
                        m_toolParts.insert(part.tool.toolCallId, int(i));
                }
            }
        } else if (m_current >= 0 && m_messages[m_current].id.isEmpty() &&
                   m_messages[m_current].finishReason.isEmpty()) {
            // Chunks came before the start: it names the message they opened.
            m_messages[m_current].id = id;
            if (!id.isEmpty())
                m_messageById.insert(id, m_current);
        } else if (m_current < 0 || !m_messages[m_current].finishReason.isEmpty() || !id.isEmpty()) {
            endTurn();
            UIMessage message;
            message.id = id;
            message.role = MessageRole::Assistant;
            message.streaming = true;
            m_current = addMessage(std::move(message), record, Channel::Out);
        }
        UIMessage &message = m_messages[m_current];
        message.streaming = true;
        mergeMetadata(message.metadata, chunk);
        touch(m_current, record);
    } else if (type == "start-step") {
        MessagePart part;
        part.type = MessagePart::Type::StepStart;
        currentAssistant(record).parts.append(std::move(part));
        touch(m_current, record);
    } else if (type == "finish-step") {
        // As the AI SDK: a new step starts new text and reasoning parts.
        m_activeText.clear();
        m_activeReasoning.clear();
        currentAssistant(record);
        touch(m_current, record);
    } else if (type == "finish") {
        UIMessage &message = currentAssistant(record);
        message.finishReason = stringField(chunk, "finishReason").value_or(QStringLiteral("unknown"));
        message.streaming = false;
        mergeMetadata(message.metadata, chunk);
        m_activeText.clear();
        m_activeReasoning.clear();
        touch(m_current, record);
    } else if (type == "message-metadata") {
        mergeMetadata(currentAssistant(record).metadata, chunk);
        touch(m_current, record);
    } else if (type == "error" || type == "abort") {
        const bool isError = type == "error";
        TimelineEntry entry;
        entry.kind = isError ? TimelineEntry::Kind::Error : TimelineEntry::Kind::Abort;
        entry.seq = record.seqNum;
        entry.timestamp = record.timestamp;
        entry.messageIndex = m_current;
        entry.text = stringField(chunk, isError ? "errorText" : "reason").value_or(QString());
        if (m_current >= 0) {
            UIMessage &message = m_messages[m_current];
            if (isError) {
                if (!message.errorText.isEmpty())
                    message.errorText += u'\n';
                message.errorText += entry.text;
            } else {
                message.aborted = true;
                message.streaming = false;
            }
            touch(m_current, record);
        }
        appendTimeline(std::move(entry));
    } else if (type == "source-url" || type == "source-document" || type == "file") {
        MessagePart part;
        part.type = type == "file"         ? MessagePart::Type::File
                    : type == "source-url" ? MessagePart::Type::SourceUrl
                                           : MessagePart::Type::SourceDocument;
        part.data = chunk;
        currentAssistant(record).parts.append(std::move(part));
        touch(m_current, record);
    } else {
        fail(record, QStringLiteral("unknown UIMessageChunk type \"%1\"").arg(chunkName(type)));
    }
}

void ConversationReducer::textChunk(const StreamRecord &record, const json &chunk,
                                    MessagePart::Type type, int phase)
{
    const QString kind = type == MessagePart::Type::Text ? QStringLiteral("text") : QStringLiteral("reasoning");
    static const char *const suffix[] = {"-start", "-delta", "-end"};
    const auto id = stringField(chunk, "id");
    if (!id) {
        fail(record, QStringLiteral("%1%2 without a string id").arg(kind, QLatin1String(suffix[phase])));
        return;
    }
    std::optional<QString> delta;
    if (phase == Delta) {
        delta = stringField(chunk, "delta");
        if (!delta) {
            fail(record, QStringLiteral("%1-delta without a string delta").arg(kind));
            return;
        }
    }
    UIMessage &message = currentAssistant(record);
    QHash<QString, int> &active = type == MessagePart::Type::Text ? m_activeText : m_activeReasoning;
    auto it = active.find(*id);
    if (phase != Start && it == active.end()) {
        fail(record, QStringLiteral("%1%2 for %1 part \"%3\" that is not open")
                         .arg(kind, QLatin1String(suffix[phase]), *id));
        if (phase == End) {
            touch(m_current, record);
            return;
        }
    }
    if (phase == Start || it == active.end()) {
        // A delta for a part never started still keeps its text.
        MessagePart part;
        part.type = type;
        part.id = *id;
        part.streaming = true;
        message.parts.append(std::move(part));
        it = active.insert(*id, int(message.parts.size() - 1));
    }
    MessagePart &part = message.parts[*it];
    if (phase == Delta) {
        part.text += *delta;
    } else if (phase == End) {
        part.streaming = false;
        active.erase(it);
    }
    touch(m_current, record);
}

ToolCall &ConversationReducer::toolPart(const StreamRecord &record, const QString &toolCallId,
                                        const json &chunk, bool mayCreate)
{
    UIMessage &message = currentAssistant(record);
    const auto it = m_toolParts.constFind(toolCallId);
    if (it != m_toolParts.constEnd())
        return message.parts[*it].tool;
    if (!mayCreate) {
        fail(record, QStringLiteral("%1 for tool call \"%2\" that was never started")
                         .arg(stringField(chunk, "type").value_or(QString()), toolCallId));
    }
    MessagePart part;
    part.type = MessagePart::Type::Tool;
    part.tool.toolCallId = toolCallId;
    message.parts.append(std::move(part));
    m_toolParts.insert(toolCallId, int(message.parts.size() - 1));
    return message.parts.last().tool;
}

void ConversationReducer::toolChunk(const StreamRecord &record, const json &chunk, const QByteArray &type)
{
    const auto id = stringField(chunk, "toolCallId");
    if (!id) {
        fail(record, QStringLiteral("%1 without a string toolCallId").arg(chunkName(type)));
        return;
    }
    // Which chunks may introduce a tool call: the AI SDK accepts input-available
    // and input-error without an input-start (non-streamed calls).
    const bool starts = type == "tool-input-start" || type == "tool-input-available" ||
                        type == "tool-input-error";
    if (!starts && type != "tool-input-delta" && type != "tool-approval-request" &&
        type != "tool-output-available" && type != "tool-output-error" && type != "tool-output-denied") {
        fail(record, QStringLiteral("unknown UIMessageChunk type \"%1\"").arg(chunkName(type)));
        return;
    }
    ToolCall &tool = toolPart(record, *id, chunk, starts);
    if (const auto name = stringField(chunk, "toolName"))
        tool.toolName = *name;
    if (chunk.contains("dynamic"))
        tool.dynamic = boolField(chunk, "dynamic");
    if (chunk.contains("providerExecuted"))
        tool.providerExecuted = boolField(chunk, "providerExecuted");

    if (type == "tool-input-start") {
        tool.state = ToolState::InputStreaming;
    } else if (type == "tool-input-delta") {
        tool.inputText += stringField(chunk, "inputTextDelta").value_or(QString());
    } else if (type == "tool-input-available" || type == "tool-input-error") {
        tool.input = valueField(chunk, "input");
        tool.inputText = QString(); // the parsed input supersedes the streamed text
        if (type == "tool-input-available") {
            tool.state = ToolState::InputAvailable;
        } else {
            tool.state = ToolState::OutputError;
            tool.errorText = stringField(chunk, "errorText").value_or(QString());
        }
    } else if (type == "tool-approval-request") {
        tool.state = ToolState::ApprovalRequested;
        tool.approvalId = stringField(chunk, "approvalId").value_or(QString());
    } else if (type == "tool-output-available") {
        tool.state = ToolState::OutputAvailable;
        tool.output = valueField(chunk, "output");
        tool.preliminary = boolField(chunk, "preliminary");
    } else if (type == "tool-output-error") {
        tool.state = ToolState::OutputError;
        tool.errorText = stringField(chunk, "errorText").value_or(QString());
    } else {
        tool.state = ToolState::OutputDenied;
    }
    touch(m_current, record);
}

void ConversationReducer::dataChunk(const StreamRecord &record, const json &chunk, const QByteArray &type)
{
    // Transient data parts are delivered to onData only and never join the message.
    if (boolField(chunk, "transient"))
        return;
    const QString dataType = chunkName(type);
    const QString id = stringField(chunk, "id").value_or(QString());
    UIMessage &message = currentAssistant(record);
    if (!id.isEmpty()) {
        for (MessagePart &part : message.parts) {
            if (part.type == MessagePart::Type::Data && part.dataType == dataType && part.id == id) {
                part.data = valueField(chunk, "data");
                touch(m_current, record);
                return;
            }
        }
    }
    MessagePart part;
    part.type = MessagePart::Type::Data;
    part.dataType = dataType;
    part.id = id;
    part.data = valueField(chunk, "data");
    message.parts.append(std::move(part));
    touch(m_current, record);
}

void ConversationReducer::applyIn(const StreamRecord &record, const DecodedBody &body, Channel arrivedOn)
{
    const json &chunk = body.data;
    TimelineEntry entry;
    entry.channel = Channel::In;
    entry.seq = record.seqNum;
    entry.timestamp = record.timestamp;

    if (body.chunkType == "stop") {
        entry.kind = TimelineEntry::Kind::Stop;
        entry.text = stringField(chunk, "message").value_or(QString());
        appendTimeline(std::move(entry));
        return;
    }
    if (body.chunkType != "message") {
        fail(record, QStringLiteral("unknown ChatInputChunk kind \"%1\"").arg(chunkName(body.chunkType)));
        return;
    }
    const auto payload = chunk.find("payload");
    if (payload == chunk.end() || !payload->is_object()) {
        fail(record, QStringLiteral("a message input without a payload object"));
        return;
    }
    const QString trigger = stringField(*payload, "trigger").value_or(QString());
    entry.subtype = trigger;
    if (trigger == u"action") {
        entry.kind = TimelineEntry::Kind::Action;
        entry.text = QString::fromStdString(valueField(*payload, "action").dump(-1, ' ', false, json::error_handler_t::replace));
        appendTimeline(std::move(entry));
        return;
    }
    const auto sent = payload->find("message");
    if (sent == payload->end() || !sent->is_object()) {
        entry.kind = TimelineEntry::Kind::Trigger;
        appendTimeline(std::move(entry));
        return;
    }

    UIMessage message;
    message.id = stringField(*sent, "id").value_or(QString());
    const QString role = stringField(*sent, "role").value_or(QStringLiteral("user"));
    message.role = role == u"assistant" ? MessageRole::Assistant
                   : role == u"system"  ? MessageRole::System
                                        : MessageRole::User;
    const auto known = m_messageById.constFind(message.id);
    if (message.role == MessageRole::Assistant && known != m_messageById.constEnd()) {
        // A client resending an assistant message (tool approvals): the run
        // answers by continuing that message on `.out`.
        entry.kind = TimelineEntry::Kind::Trigger;
        entry.messageIndex = *known;
        appendTimeline(std::move(entry));
        return;
    }
    message.trigger = trigger;
    message.clientData = valueField(*payload, "metadata");
    const auto parts = sent->find("parts");
    if (parts != sent->end() && parts->is_array()) {
        for (const json &part : *parts) {
            if (part.is_object())
                message.parts.append(partFromUIMessage(part));
        }
    }
    // Only a record that came on `.in` has an `.in` seq to place by.
    addMessage(std::move(message), record, Channel::In,
                  arrivedOn == Channel::In ? placeInput(record) : std::nullopt);
}

UIMessage &ConversationReducer::currentAssistant(const StreamRecord &record)
{
    if (m_current < 0) {
        UIMessage message;
        message.role = MessageRole::Assistant;
        message.streaming = true;
        m_current = addMessage(std::move(message), record, Channel::Out);
    }
    return m_messages[m_current];
}

int ConversationReducer::addMessage(UIMessage message, const StreamRecord &record, Channel channel,
                                    std::optional<Placement> place)
{
    message.channel = channel;
    message.firstSeq = message.lastSeq = record.seqNum;
    message.firstTimestamp = message.lastTimestamp = record.timestamp;
    const int at = place ? place->message : int(m_messages.size());
    shiftMessages(at);
    if (!message.id.isEmpty())
        m_messageById.insert(message.id, at);
    TimelineEntry entry;
    entry.kind = TimelineEntry::Kind::Message;
    entry.channel = channel;
    entry.seq = record.seqNum;
    entry.timestamp = record.timestamp;
    entry.messageIndex = at;
    entry.subtype = message.trigger;
    m_messages.insert(at, std::move(message));
    m_change.insert(at, Change::Inserted);
    m_changes.insertedMessages.append(at);
    insertTimeline(place ? place->row : int(m_timeline.size()), std::move(entry));
    return at;
}

std::optional<ConversationReducer::Placement> ConversationReducer::placeInput(const StreamRecord &record) const
{
    const qint64 seq = record.seqNum;
    const bool consumed = seq <= m_maxTurnInSeq;
    // Not consumed yet and an earlier input already opened the running turn:
    // this one waits for a later turn, at the end.
    if (!consumed && m_previousInSeq > m_lastTurnInSeq)
        return std::nullopt;
    // The turn of `seq` opens after the last turn-complete that had not consumed it.
    int first = 0;
    for (int row = int(m_timeline.size()) - 1; row >= 0; --row) {
        const TimelineEntry &e = m_timeline[row];
        if (e.kind == TimelineEntry::Kind::TurnComplete && turnInSeq(e) < seq) {
            first = row + 1;
            break;
        }
    }
    // `.in` is applied in seq order, so every `.in` entry shown is earlier input: it stays first.
    int row = first;
    while (row < m_timeline.size() && m_timeline[row].channel == Channel::In)
        ++row;
    if (row == m_timeline.size())
        return std::nullopt; // nothing of its turn shown yet: the end is its place
    const qint64 outTime = m_timeline[row].timestamp;
    if (!consumed && record.timestamp > 0 && outTime > 0 && record.timestamp > outTime)
        return std::nullopt; // written after the running turn started: not what started it
    // Message entries are in message order, so the first one from `row` on names the spot.
    for (int i = row; i < m_timeline.size(); ++i) {
        const TimelineEntry &e = m_timeline[i];
        if (e.kind == TimelineEntry::Kind::Message && e.messageIndex >= 0)
            return Placement{row, e.messageIndex};
    }
    return Placement{row, int(m_messages.size())};
}

void ConversationReducer::shiftMessages(int from)
{
    if (from >= m_messages.size())
        return;
    const auto shift = [from](int &index) {
        if (index >= from)
            ++index;
    };
    for (TimelineEntry &e : m_timeline)
        shift(e.messageIndex);
    for (int &index : m_messageById)
        shift(index);
    for (int &index : m_changes.insertedMessages)
        shift(index);
    for (int &index : m_changes.updatedMessages)
        shift(index);
    shift(m_current);
}

void ConversationReducer::insertTimeline(int row, TimelineEntry entry)
{
    if (row < m_timeline.size()) {
        for (int &index : m_changes.insertedTimeline) {
            if (index >= row)
                ++index;
        }
    }
    m_changes.insertedTimeline.append(row);
    m_timeline.insert(row, std::move(entry));
}

void ConversationReducer::markUpdated(int messageIndex)
{
    if (m_change[messageIndex] != Change::None)
        return;
    m_change[messageIndex] = Change::Updated;
    m_changes.updatedMessages.append(messageIndex);
}

void ConversationReducer::touch(int messageIndex, const StreamRecord &record)
{
    if (messageIndex < 0)
        return;
    UIMessage &message = m_messages[messageIndex];
    message.lastSeq = record.seqNum;
    message.lastTimestamp = record.timestamp;
    markUpdated(messageIndex);
}

void ConversationReducer::endTurn()
{
    if (m_current >= 0 && m_messages[m_current].streaming) {
        m_messages[m_current].streaming = false;
        markUpdated(m_current);
    }
    m_current = -1;
    m_activeText.clear();
    m_activeReasoning.clear();
    m_toolParts.clear();
}

void ConversationReducer::fail(const StreamRecord &record, const QString &reason)
{
    m_errors.append(Error::make(QStringLiteral("seq %1: %2").arg(record.seqNum).arg(reason), record.seqNum));
}

ConversationChanges ConversationReducer::takeChanges()
{
    ConversationChanges out = std::exchange(m_changes, {});
    for (QList<int> *list : {&out.insertedMessages, &out.updatedMessages, &out.insertedTimeline})
        std::sort(list->begin(), list->end());
    for (int index : out.insertedMessages)
        m_change[index] = Change::None;
    for (int index : out.updatedMessages)
        m_change[index] = Change::None;
    return out;
}

QList<Error> ConversationReducer::takeErrors()
{
    return std::exchange(m_errors, {});
}

void ConversationReducer::clear()
{
    *this = ConversationReducer();
}

} // namespace sessionscope
