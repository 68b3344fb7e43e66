#pragma once

#include "net/chunkbody.h"
#include "net/result.h"
#include "net/streamrecord.h"
#include "net/uimessage.h"

#include <QHash>
#include <QList>

#include <optional>

namespace sessionscope {

// What apply() changed since the last takeChanges(), in the shape a Qt model
// wants. Messages and timeline entries that were there at the last take keep
// their relative order and are never removed; new ones usually come at the end
// but may land between them (a late `.in` message placed before the answer it
// started). Inserting the new ones into the old list in ascending order of
// their indices gives the new list.
struct ConversationChanges
{
    QList<int> insertedMessages; // new messages: their indices in messages(), ascending
    QList<int> updatedMessages;  // messages there at the last take that changed: indices in messages(), ascending
    QList<int> insertedTimeline; // new timeline entries: their indices in timeline(), ascending

    bool isEmpty() const
    {
        return insertedMessages.isEmpty() && updatedMessages.isEmpty() && insertedTimeline.isEmpty();
    }
};

// Folds `.out` and `.in` records into UIMessages the way the AI SDK's
// processUIMessageStream does, one record or one batch at a time. Memory grows
// with the conversation (its text, parts and timeline), never per record.
//
// Records at or below the last seq applied on their channel are skipped, so
// replaying a batch after a resume does no harm.
//
// The two channels arrive independently (`.in` may come through a slower edge
// proxy), so a user message can arrive after the answer it started. Messages
// and the timeline are kept in conversation order: a message from `.in` with
// seq S goes before the `.out` entries of the turn that consumed it when
//  - a turn-complete with session-in-event-id >= S has been seen: the first
//    such one closes the turn of S, which opened after the turn-complete
//    before it (the only proof, as turns consume `.in` in order); or
//  - a turn is still open (`.out` entries after the last turn-complete, whose
//    session-in-event-id is < S or absent), no `.in` record after that
//    session-in-event-id came before S (so S is the first input that turn can
//    have consumed), and S was not written after the turn's first `.out`
//    record (server timestamps, when both are known).
// Otherwise it is appended: without that evidence (a turn that consumed no
// `.in`, e.g. a boot message, still streaming when S came) the arrival order
// is kept. Only messages move; stops, actions and other triggers stay where
// they arrived. Placement is decided once, when the message arrives.
class ConversationReducer
{
public:
    // A data record is decoded here; its body's shape decides `.in` vs `.out`
    // handling (a mismatch with `channel` is reported).
    void apply(const StreamRecord &record, Channel channel);
    // The same with a body the caller has already decoded.
    void apply(const StreamRecord &record, Channel channel, const DecodedBody &body);
    void applyBatch(const QList<StreamRecord> &records, Channel channel);

    const QList<UIMessage> &messages() const { return m_messages; }
    const QList<TimelineEntry> &timeline() const { return m_timeline; }

    ConversationChanges takeChanges();
    // Records that could not be folded in: undecodable bodies, chunks that
    // break the AI SDK's order (a delta for a part never started), unknown
    // chunk types. Each names its seq.
    QList<Error> takeErrors();

    qint64 lastSeq(Channel channel) const { return m_lastSeq[index(channel)]; }
    qint64 appliedRecords() const { return m_appliedRecords; }
    qint64 duplicatesSkipped() const { return m_duplicates; }

    void clear();

private:
    static int index(Channel channel) { return channel == Channel::In ? 0 : 1; }
    bool accept(const StreamRecord &record, Channel channel);
    void applyData(const StreamRecord &record, Channel channel, const DecodedBody &body);

    void applyOut(const StreamRecord &record, const DecodedBody &body);
    void applyIn(const StreamRecord &record, const DecodedBody &body, Channel arrivedOn);
    void applyControl(const StreamRecord &record, Channel channel);

    // The assistant message chunks go to, opened when a turn's chunks came
    // without a `start`.
    UIMessage &currentAssistant(const StreamRecord &record);
    // Where a late `.in` message belongs (see the class comment); nullopt: at the end.
    struct Placement
    {
        int row;     // in the timeline
        int message; // in messages()
    };
    std::optional<Placement> placeInput(const StreamRecord &record) const;
    // Adds the message and its timeline entry at the end, or where `place` says; answers its index.
    int addMessage(UIMessage message, const StreamRecord &record, Channel channel,
                   std::optional<Placement> place = std::nullopt);
    void appendTimeline(TimelineEntry entry) { insertTimeline(int(m_timeline.size()), std::move(entry)); }
    void insertTimeline(int row, TimelineEntry entry);
    void shiftMessages(int from);
    void markUpdated(int messageIndex);
    void touch(int messageIndex, const StreamRecord &record);
    void endTurn();
    void fail(const StreamRecord &record, const QString &reason);

    void textChunk(const StreamRecord &record, const nlohmann::json &chunk,
                   MessagePart::Type type, int phase);
    void toolChunk(const StreamRecord &record, const nlohmann::json &chunk, const QByteArray &type);
    void dataChunk(const StreamRecord &record, const nlohmann::json &chunk, const QByteArray &type);
    ToolCall &toolPart(const StreamRecord &record, const QString &toolCallId,
                       const nlohmann::json &chunk, bool mayCreate);

    QList<UIMessage> m_messages;
    QList<TimelineEntry> m_timeline;
    QHash<QString, int> m_messageById;
    int m_current = -1; // the open assistant message
    // Parts of the current message, by id (AI SDK: activeTextParts & co).
    QHash<QString, int> m_activeText;
    QHash<QString, int> m_activeReasoning;
    QHash<QString, int> m_toolParts;

    ConversationChanges m_changes;
    // Per message, parallel to m_messages: what the next takeChanges() reports.
    enum class Change : quint8 { None, Updated, Inserted };
    QList<Change> m_change;
    qint64 m_previousInSeq = -1; // the `.in` seq applied before the current one
    qint64 m_lastTurnInSeq = -1; // session-in-event-id of the last turn-complete, -1: none
    qint64 m_maxTurnInSeq = -1;  // the highest session-in-event-id seen
    QList<Error> m_errors;
    qint64 m_lastSeq[2] = {-1, -1};
    qint64 m_appliedRecords = 0;
    qint64 m_duplicates = 0;
};

} // namespace sessionscope
