#include "models/conversationmodel.h"

#include "models/jsontext.h"

#include <QMetaEnum>

#include <algorithm>

namespace sessionscope {

namespace {

constexpr int DisplayChars = 300;

QString clipped(const QString &text)
{
    return text.size() > DisplayChars ? text.left(DisplayChars - 1) + QChar(0x2026) : text;
}

bool samePart(const MessagePart &a, const MessagePart &b)
{
    if (a.type != b.type || a.id != b.id || a.streaming != b.streaming || a.text != b.text
        || a.dataType != b.dataType || a.data != b.data)
        return false;
    const ToolCall &x = a.tool;
    const ToolCall &y = b.tool;
    return x.toolCallId == y.toolCallId && x.toolName == y.toolName && x.state == y.state
           && x.inputText == y.inputText && x.input == y.input && x.output == y.output && x.errorText == y.errorText
           && x.approvalId == y.approvalId && x.providerExecuted == y.providerExecuted && x.dynamic == y.dynamic
           && x.preliminary == y.preliminary;
}

QString toolInputText(const ToolCall &tool)
{
    return tool.input.is_null() ? tool.inputText : jsonText(tool.input, -1, false);
}

} // namespace

ConversationModel::ConversationModel(QObject *parent) : QAbstractItemModel(parent) {}

QModelIndex ConversationModel::index(int row, int column, const QModelIndex &parent) const
{
    if (!hasIndex(row, column, parent))
        return {};
    if (!parent.isValid())
        return createIndex(row, column, quintptr(0));
    // A part: its internal id is its row's key, which survives rows inserted above it.
    return createIndex(row, column, m_rowKey.at(parent.row()));
}

QModelIndex ConversationModel::parent(const QModelIndex &child) const
{
    if (!child.isValid() || isTopLevel(child))
        return {};
    return createIndex(m_rowOfKey.value(child.internalId()), 0, quintptr(0));
}

int ConversationModel::rowCount(const QModelIndex &parent) const
{
    if (!parent.isValid())
        return int(m_timeline.size());
    if (!isTopLevel(parent) || parent.column() != 0)
        return 0;
    const TimelineEntry &entry = m_timeline.at(parent.row());
    if (entry.kind != TimelineEntry::Kind::Message || entry.messageIndex < 0)
        return 0;
    return int(m_messages.at(entry.messageIndex).parts.size());
}

int ConversationModel::columnCount(const QModelIndex &) const
{
    return 1;
}

QString ConversationModel::entryKindName(TimelineEntry::Kind kind)
{
    switch (kind) {
    case TimelineEntry::Kind::Message:
        return QStringLiteral("message");
    case TimelineEntry::Kind::TurnComplete:
        return QStringLiteral("turn-complete");
    case TimelineEntry::Kind::UpgradeRequired:
        return QStringLiteral("upgrade-required");
    case TimelineEntry::Kind::Control:
        return QStringLiteral("control");
    case TimelineEntry::Kind::Stop:
        return QStringLiteral("stop");
    case TimelineEntry::Kind::Action:
        return QStringLiteral("action");
    case TimelineEntry::Kind::Trigger:
        return QStringLiteral("trigger");
    case TimelineEntry::Kind::Error:
        return QStringLiteral("error");
    case TimelineEntry::Kind::Abort:
        return QStringLiteral("abort");
    }
    return {};
}

QString ConversationModel::partTypeName(const MessagePart &part)
{
    switch (part.type) {
    case MessagePart::Type::Text:
        return QStringLiteral("text");
    case MessagePart::Type::Reasoning:
        return QStringLiteral("reasoning");
    case MessagePart::Type::Tool:
        return QStringLiteral("tool");
    case MessagePart::Type::Data:
        return QStringLiteral("data");
    case MessagePart::Type::StepStart:
        return QStringLiteral("step-start");
    case MessagePart::Type::SourceUrl:
        return QStringLiteral("source-url");
    case MessagePart::Type::SourceDocument:
        return QStringLiteral("source-document");
    case MessagePart::Type::File:
        return QStringLiteral("file");
    case MessagePart::Type::Other:
        return part.dataType;
    }
    return {};
}

QVariant ConversationModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    if (isTopLevel(index))
        return entryData(index.row(), role);
    const TimelineEntry &entry = m_timeline.at(m_rowOfKey.value(index.internalId()));
    if (role == IsPartRole)
        return true;
    if (role == MessageIndexRole)
        return entry.messageIndex;
    return partData(m_messages.at(entry.messageIndex).parts.at(index.row()), role);
}

QVariant ConversationModel::entryData(int row, int role) const
{
    const TimelineEntry &e = m_timeline.at(row);
    // Other entries may name the message they concern; only a message row shows it.
    const UIMessage *message =
        e.kind == TimelineEntry::Kind::Message && e.messageIndex >= 0 ? &m_messages.at(e.messageIndex) : nullptr;
    switch (role) {
    case Qt::DisplayRole: {
        switch (e.kind) {
        case TimelineEntry::Kind::Message: {
            if (!message)
                return {};
            const QString text = message->text();
            return roleName(message->role) + QStringLiteral(": ")
                   + (text.isEmpty() ? tr("(%n part(s))", nullptr, int(message->parts.size())) : clipped(text));
        }
        case TimelineEntry::Kind::TurnComplete:
            return e.sessionInEventId ? tr("Turn complete (in seq %1)").arg(*e.sessionInEventId) : tr("Turn complete");
        case TimelineEntry::Kind::UpgradeRequired:
            return tr("Upgrade required: a run on the latest version takes over");
        case TimelineEntry::Kind::Control:
            return tr("Control: %1").arg(e.subtype);
        case TimelineEntry::Kind::Stop:
            return e.text.isEmpty() ? tr("Stop") : tr("Stop: %1").arg(clipped(e.text));
        case TimelineEntry::Kind::Action:
            return tr("Action: %1").arg(clipped(e.text));
        case TimelineEntry::Kind::Trigger:
            return tr("Trigger: %1").arg(e.subtype);
        case TimelineEntry::Kind::Error:
            return tr("Error: %1").arg(clipped(e.text));
        case TimelineEntry::Kind::Abort:
            return e.text.isEmpty() ? tr("Aborted") : tr("Aborted: %1").arg(clipped(e.text));
        }
        return {};
    }
    case Qt::ToolTipRole:
        return tr("seq %1 on .%2").arg(e.seq).arg(e.channel == Channel::In ? QStringLiteral("in") : QStringLiteral("out"));
    case EntryKindRole:
        return int(e.kind);
    case EntryKindNameRole:
        return entryKindName(e.kind);
    case ChannelRole:
        return int(e.channel);
    case SeqRole:
        return e.seq;
    case TimestampRole:
        return e.timestamp;
    case TurnRole:
        return m_turnOfRow.at(row);
    case SubtypeRole:
        return e.subtype;
    case SessionInEventIdRole: {
        if (!e.sessionInEventId)
            return {};
        bool ok = false;
        const qint64 seq = e.sessionInEventId->toLongLong(&ok);
        return ok ? QVariant(seq) : QVariant();
    }
    case TokenRefreshedRole:
        return e.tokenRefreshed;
    case IsPartRole:
        return false;
    case MessageIndexRole:
        return e.messageIndex;
    case TextRole:
        return message ? message->text() : e.text;
    case ErrorTextRole:
        if (e.kind == TimelineEntry::Kind::Error || e.kind == TimelineEntry::Kind::Abort)
            return e.text;
        return message ? message->errorText : QString();
    }
    return message ? messageData(*message, role) : QVariant();
}

QVariant ConversationModel::messageData(const UIMessage &m, int role) const
{
    switch (role) {
    case MessageIdRole:
        return m.id;
    case MessageRoleRole:
        return roleName(m.role);
    case StreamingRole:
        return m.streaming;
    case AbortedRole:
        return m.aborted;
    case FinishReasonRole:
        return m.finishReason;
    case TriggerRole:
        return m.trigger;
    case ClientDataRole:
        return jsonText(m.clientData, -1, false);
    case MessageMetadataRole:
        return jsonText(m.metadata, -1, false);
    case FirstSeqRole:
        return m.firstSeq;
    case LastSeqRole:
        return m.lastSeq;
    case ReasoningRole:
        return m.reasoning();
    }
    return {};
}

QVariant ConversationModel::partData(const MessagePart &p, int role) const
{
    const ToolCall &t = p.tool;
    const bool tool = p.type == MessagePart::Type::Tool;
    switch (role) {
    case Qt::DisplayRole:
        switch (p.type) {
        case MessagePart::Type::Text:
            return clipped(p.text);
        case MessagePart::Type::Reasoning:
            return tr("Reasoning: %1").arg(clipped(p.text));
        case MessagePart::Type::Tool:
            return QStringLiteral("%1 [%2]").arg(t.toolName, toolStateName(t.state));
        case MessagePart::Type::Data:
            return p.dataType + QStringLiteral(": ") + clipped(jsonText(p.data, -1, false));
        case MessagePart::Type::StepStart:
            return tr("Step");
        default:
            return partTypeName(p) + QStringLiteral(": ") + clipped(jsonText(p.data, -1, false));
        }
    case PartTypeRole:
        return partTypeName(p);
    case PartIdRole:
        return p.id;
    case TextRole:
        return p.text;
    case StreamingRole:
        return p.streaming;
    case DataTypeRole:
        return p.dataType;
    case DataRole:
        return jsonText(p.data, -1, false);
    case ToolCallIdRole:
        return tool ? QVariant(t.toolCallId) : QVariant();
    case ToolNameRole:
        return tool ? QVariant(t.toolName) : QVariant();
    case ToolStateRole:
        return tool ? QVariant(toolStateName(t.state)) : QVariant();
    case ToolInputRole:
        return tool ? QVariant(toolInputText(t)) : QVariant();
    case ToolOutputRole:
        return tool ? QVariant(jsonText(t.output, -1, false)) : QVariant();
    case ToolErrorRole:
        return tool ? QVariant(t.errorText) : QVariant();
    case ToolApprovalIdRole:
        return tool ? QVariant(t.approvalId) : QVariant();
    case ToolAwaitingApprovalRole:
        return tool && t.state == ToolState::ApprovalRequested;
    case ToolDynamicRole:
        return tool && t.dynamic;
    case ToolProviderExecutedRole:
        return tool && t.providerExecuted;
    case ToolPreliminaryRole:
        return tool && t.preliminary;
    }
    return {};
}

QHash<int, QByteArray> ConversationModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractItemModel::roleNames();
    const QMetaEnum roles = QMetaEnum::fromType<Role>();
    for (int i = 0; i < roles.keyCount(); ++i) {
        QByteArray name = roles.key(i);
        name.chop(4); // "Role"
        name[0] = char(QChar::toLower(uint(uchar(name[0]))));
        names.insert(roles.value(i), name);
    }
    return names;
}

namespace {

bool ascendingBelow(const QList<int> &indexes, qsizetype bound)
{
    for (qsizetype i = 0; i < indexes.size(); ++i) {
        if (indexes[i] < 0 || indexes[i] >= bound || (i > 0 && indexes[i - 1] >= indexes[i]))
            return false;
    }
    return true;
}

} // namespace

QString ConversationModel::refusal(const ConversationUpdate &u) const
{
    const qsizetype messagesAfter = m_messages.size() + u.insertedIndexes.size();
    const qsizetype timelineAfter = m_timeline.size() + u.insertedTimelineIndexes.size();
    if (u.insertedIndexes.size() != u.insertedMessages.size() || u.updatedIndexes.size() != u.updatedMessages.size()
        || u.insertedTimelineIndexes.size() != u.insertedTimeline.size())
        return tr("indexes and contents differ in number");
    if (u.insertedIndexes.isEmpty() && u.updatedIndexes.isEmpty() && u.insertedTimelineIndexes.isEmpty())
        return {};
    if (u.messagesBefore != m_messages.size() || u.timelineBefore != m_timeline.size())
        return tr("it continues %1 messages and %2 entries, the model has %3 and %4")
            .arg(u.messagesBefore)
            .arg(u.timelineBefore)
            .arg(m_messages.size())
            .arg(m_timeline.size());
    if (!ascendingBelow(u.insertedIndexes, messagesAfter) || !ascendingBelow(u.updatedIndexes, messagesAfter)
        || !ascendingBelow(u.insertedTimelineIndexes, timelineAfter))
        return tr("indexes out of order or out of range (%1 messages, %2 entries)").arg(messagesAfter).arg(timelineAfter);
    for (int i : u.updatedIndexes) {
        if (std::binary_search(u.insertedIndexes.begin(), u.insertedIndexes.end(), i))
            return tr("message %1 is both new and updated").arg(i);
    }
    for (const TimelineEntry &e : u.insertedTimeline) {
        if (e.messageIndex >= messagesAfter)
            return tr("a timeline entry names message %1 of %2").arg(e.messageIndex).arg(messagesAfter);
    }
    return {};
}

void ConversationModel::applyUpdate(const ConversationUpdate &u)
{
    if (const QString why = refusal(u); !why.isEmpty()) {
        Q_EMIT errorsOccurred({Error::make(tr("Conversation update refused: %1").arg(why))});
        return;
    }
    // New messages first: rows only appear for them with their timeline entry.
    const int firstShifted = insertMessages(u);
    for (qsizetype i = 0; i < u.updatedIndexes.size(); ++i)
        updateMessage(u.updatedIndexes[i], u.updatedMessages[i]);

    // One insertion per contiguous run of new rows; usually a single run at the end.
    for (qsizetype begin = 0; begin < u.insertedTimelineIndexes.size();) {
        qsizetype end = begin + 1;
        while (end < u.insertedTimelineIndexes.size()
               && u.insertedTimelineIndexes[end] == u.insertedTimelineIndexes[end - 1] + 1)
            ++end;
        insertRows(u.insertedTimelineIndexes[begin], u.insertedTimeline.mid(begin, end - begin));
        begin = end;
    }
    if (firstShifted >= 0) {
        // Rows above which a message was inserted now name another message index.
        for (int row = 0; row < m_timeline.size(); ++row) {
            if (m_timeline[row].messageIndex >= firstShifted) {
                Q_EMIT dataChanged(index(row, 0), index(int(m_timeline.size()) - 1, 0), {MessageIndexRole});
                break;
            }
        }
    }
    if (!u.errors.isEmpty())
        Q_EMIT errorsOccurred(u.errors);
}

int ConversationModel::insertMessages(const ConversationUpdate &u)
{
    if (u.insertedIndexes.isEmpty())
        return -1;
    if (u.insertedIndexes.first() >= m_messages.size()) {
        m_messages.append(u.insertedMessages);
        m_messageRow.insert(m_messageRow.size(), u.insertedMessages.size(), -1);
        return -1;
    }
    // Merge: the messages already here keep their order; rows follow them.
    const int total = int(m_messages.size() + u.insertedMessages.size());
    QList<int> newIndexOfOld(m_messages.size());
    QList<UIMessage> messages;
    QList<int> messageRow;
    messages.reserve(total);
    messageRow.reserve(total);
    qsizetype next = 0;
    qsizetype old = 0;
    for (int i = 0; i < total; ++i) {
        if (next < u.insertedIndexes.size() && u.insertedIndexes[next] == i) {
            messages.append(u.insertedMessages[next++]);
            messageRow.append(-1);
        } else {
            newIndexOfOld[old] = i;
            messages.append(std::move(m_messages[old]));
            messageRow.append(m_messageRow[old]);
            ++old;
        }
    }
    m_messages = std::move(messages);
    m_messageRow = std::move(messageRow);
    for (TimelineEntry &e : m_timeline) {
        if (e.messageIndex >= 0)
            e.messageIndex = newIndexOfOld[e.messageIndex];
    }
    return u.insertedIndexes.first();
}

void ConversationModel::insertRows(int first, const QList<TimelineEntry> &entries)
{
    const int count = int(entries.size());
    const bool atEnd = first == m_timeline.size();
    beginInsertRows(QModelIndex(), first, first + count - 1);
    if (!atEnd) {
        for (int &row : m_messageRow) {
            if (row >= first)
                row += count;
        }
    }
    int turn = atEnd ? m_turnCompletes : m_turnOfRow.at(first);
    int turnCompletes = 0;
    for (int i = 0; i < count; ++i) {
        const TimelineEntry &e = entries[i];
        const int row = first + i;
        if (e.kind == TimelineEntry::Kind::Message && e.messageIndex >= 0)
            m_messageRow[e.messageIndex] = row;
        m_turnOfRow.insert(row, turn);
        if (e.kind == TimelineEntry::Kind::TurnComplete) {
            ++turn;
            ++turnCompletes;
        }
        m_timeline.insert(row, e);
        m_rowKey.insert(row, m_nextKey++);
    }
    m_turnCompletes += turnCompletes;
    for (int row = first + count; row < m_timeline.size(); ++row)
        m_turnOfRow[row] += turnCompletes;
    for (int row = first; row < m_timeline.size(); ++row)
        m_rowOfKey.insert(m_rowKey[row], row);
    endInsertRows();
}

void ConversationModel::updateMessage(int messageIndex, const UIMessage &next)
{
    UIMessage &current = m_messages[messageIndex];
    const int row = m_messageRow.at(messageIndex);
    if (row < 0) {
        current = next; // no row shows it yet
        return;
    }
    const QModelIndex parent = index(row, 0);
    const int before = int(current.parts.size());
    const int after = int(next.parts.size());
    const int common = qMin(before, after);

    // Parts that stayed, changed in place; then the ones that came or went,
    // so rows around an insertion never change during it.
    int firstChanged = -1;
    int lastChanged = -1;
    for (int i = 0; i < common; ++i) {
        if (samePart(current.parts[i], next.parts[i]))
            continue;
        current.parts[i] = next.parts[i];
        if (firstChanged < 0)
            firstChanged = i;
        lastChanged = i;
    }
    if (firstChanged >= 0)
        Q_EMIT dataChanged(index(firstChanged, 0, parent), index(lastChanged, 0, parent));
    if (after > before) {
        beginInsertRows(parent, before, after - 1);
        current.parts.append(next.parts.mid(before));
        endInsertRows();
    } else if (after < before) {
        beginRemoveRows(parent, after, before - 1);
        current.parts.resize(after);
        endRemoveRows();
    }
    current = next;
    Q_EMIT dataChanged(parent, parent);
}

void ConversationModel::clear()
{
    beginResetModel();
    m_messages.clear();
    m_timeline.clear();
    m_turnOfRow.clear();
    m_messageRow.clear();
    m_rowKey.clear();
    m_rowOfKey.clear();
    m_turnCompletes = 0;
    endResetModel();
}

} // namespace sessionscope
