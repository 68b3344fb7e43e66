#pragma once

#include "models/conversationupdate.h"
#include "net/uimessage.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QList>

namespace sessionscope {

// The rendered conversation of a session: `.in` and `.out` merged into one
// timeline, as a two-level tree for a QTreeView or a delegate-drawn list.
//
//   top-level rows  one per TimelineEntry, in the order things happened:
//                   messages (user and assistant), turn-complete boundaries,
//                   upgrade-required markers, stops, actions, other triggers,
//                   errors, aborts
//   children        a message's parts: text, reasoning, tool calls (input,
//                   output, approval state), data-*, files, sources, steps
//
// One column. Top-level rows answer the entry and message roles, children the
// part roles; both answer IsPartRole and MessageIndexRole. Streaming deltas
// update rows in place (dataChanged on the message and on the parts that
// changed, rowsInserted for new parts); new timeline rows come in one
// insertion per update and contiguous run: usually one at the end, but a late
// `.in` message is inserted above the answer it started (see
// ConversationReducer), which also renumbers MessageIndexRole below it.
//
// The model never decodes anything: a ConversationReducer (normally inside
// StreamIngest's worker) does, and applyUpdate() takes its changes.
class ConversationModel : public QAbstractItemModel
{
    Q_OBJECT

public:
    enum Role {
        // Top-level rows.
        EntryKindRole = Qt::UserRole + 1, // int(TimelineEntry::Kind)
        EntryKindNameRole,   // "message", "turn-complete", "upgrade-required", "control", "stop",
                             // "action", "trigger", "error", "abort"
        ChannelRole,         // int(Channel)
        SeqRole,             // qint64: the record that opened the entry
        TimestampRole,       // qint64 ms
        TurnRole,            // int: turn-completes before this row (a turn-complete counts in its own turn)
        SubtypeRole,         // control subtype or trigger name
        SessionInEventIdRole, // qint64 for control records that carry it, else invalid
        TokenRefreshedRole,  // bool: the control record carried a new access token
        // Messages (top-level rows of kind message).
        MessageIdRole,
        MessageRoleRole,     // "user", "assistant", "system"
        StreamingRole,       // bool; on parts: the text/reasoning part is still open
        AbortedRole,
        FinishReasonRole,
        ErrorTextRole,       // message errors; on rows of kind error/abort: their text
        TriggerRole,         // user messages: "submit-message", ...
        ClientDataRole,      // user messages: payload.metadata as JSON text
        MessageMetadataRole, // assistant messages: messageMetadata as JSON text
        FirstSeqRole,
        LastSeqRole,
        // Both levels.
        IsPartRole,          // bool
        MessageIndexRole,    // int: index into messages(), -1 for entries without one
        TextRole,            // message text / part text / entry text
        ReasoningRole,       // message: its reasoning text
        // Parts (children).
        PartTypeRole,        // "text", "reasoning", "tool", "data", "step-start", "source-url",
                             // "source-document", "file", or the unknown part's type
        PartIdRole,
        ToolCallIdRole,
        ToolNameRole,
        ToolStateRole,       // AI SDK state name: "input-streaming", ..., "output-denied"
        ToolInputRole,       // JSON text (the partial input text while streaming)
        ToolOutputRole,      // JSON text
        ToolErrorRole,
        ToolApprovalIdRole,
        ToolAwaitingApprovalRole, // bool: approval-requested
        ToolDynamicRole,
        ToolProviderExecutedRole,
        ToolPreliminaryRole,
        DataTypeRole,        // data parts: "data-<name>"
        DataRole,            // data/file/source parts: JSON text
    };
    Q_ENUM(Role)

    explicit ConversationModel(QObject *parent = nullptr);

    QModelIndex index(int row, int column, const QModelIndex &parent = QModelIndex()) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    // Applies a reducer's changes. An update that does not continue this
    // model's state (it came from another reducer, or after a clear()) is
    // refused with errorsOccurred(), and the model stays as it was.
    void applyUpdate(const ConversationUpdate &update);
    void clear();

    const QList<UIMessage> &messages() const { return m_messages; }
    const QList<TimelineEntry> &timeline() const { return m_timeline; }
    // The top-level row of a message, -1 when it has none.
    int rowForMessage(int messageIndex) const { return m_messageRow.value(messageIndex, -1); }

    static QString entryKindName(TimelineEntry::Kind kind);
    static QString partTypeName(const MessagePart &part);

Q_SIGNALS:
    void errorsOccurred(const QList<sessionscope::Error> &errors);

private:
    bool isTopLevel(const QModelIndex &index) const { return index.internalId() == 0; }
    QString refusal(const ConversationUpdate &update) const;
    // Merges the update's new messages in; returns the first index inserted
    // among the old ones, -1 when they were only appended.
    int insertMessages(const ConversationUpdate &update);
    void insertRows(int first, const QList<TimelineEntry> &entries);
    void updateMessage(int messageIndex, const UIMessage &message);
    QVariant entryData(int row, int role) const;
    QVariant messageData(const UIMessage &message, int role) const;
    QVariant partData(const MessagePart &part, int role) const;

    QList<UIMessage> m_messages;
    QList<TimelineEntry> m_timeline;
    QList<int> m_turnOfRow;  // TurnRole per top-level row
    QList<int> m_messageRow; // top-level row per message, -1 until its entry arrives
    // Per top-level row a key that stays when rows are inserted above it: the
    // internal id of its parts' indexes.
    QList<quintptr> m_rowKey;
    QHash<quintptr, int> m_rowOfKey;
    quintptr m_nextKey = 1;
    int m_turnCompletes = 0;
};

} // namespace sessionscope
