#pragma once

#include "net/chunkbody.h"
#include "net/result.h"
#include "net/streamrecord.h"
#include "net/uimessage.h"

#include <QHash>
#include <QList>

namespace sessionscope {

// What apply() changed since the last takeChanges(), in the shape a Qt model
// wants: messages and timeline entries only ever get appended at the end, and
// earlier messages may be updated in place.
struct ConversationChanges
{
    int firstAppendedMessage = -1;  // messages [first, messages().size()) are new; -1: none
    QList<int> updatedMessages;     // older messages that changed, ascending
    int firstAppendedTimeline = -1; // timeline [first, timeline().size()) is new; -1: none

    bool isEmpty() const
    {
        return firstAppendedMessage < 0 && updatedMessages.isEmpty() && firstAppendedTimeline < 0;
    }
};

// Folds `.out` and `.in` records into UIMessages the way the AI SDK's
// processUIMessageStream does, one record or one batch at a time. Memory grows
// with the conversation (its text, parts and timeline), never per record.
//
// Records at or below the last seq applied on their channel are skipped, so
// replaying a batch after a resume does no harm.
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
    void applyIn(const StreamRecord &record, const DecodedBody &body);
    void applyControl(const StreamRecord &record, Channel channel);

    // The assistant message chunks go to, opened when a turn's chunks came
    // without a `start`.
    UIMessage &currentAssistant(const StreamRecord &record);
    int appendMessage(UIMessage message, const StreamRecord &record, Channel channel);
    void appendTimeline(TimelineEntry entry);
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
    int m_messagesAtTake = 0;
    QList<Error> m_errors;
    qint64 m_lastSeq[2] = {-1, -1};
    qint64 m_appliedRecords = 0;
    qint64 m_duplicates = 0;
};

} // namespace sessionscope
