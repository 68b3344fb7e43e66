#pragma once

#include "net/conversationreducer.h"
#include "net/result.h"
#include "net/uimessage.h"

#include <QList>
#include <QMetaType>

namespace sessionscope {

// What a ConversationReducer changed, copied out so it can cross threads: the
// reducer runs next to the decoder, the ConversationModel on the UI thread
// only applies these. Indexes are in the conversation after the update (see
// ConversationChanges); the sizes before it let a model check that the update
// continues its state.
struct ConversationUpdate
{
    int messagesBefore = -1;             // messages at the previous update
    QList<int> insertedIndexes;          // ascending
    QList<UIMessage> insertedMessages;   // same order
    QList<int> updatedIndexes;           // ascending, none of them inserted
    QList<UIMessage> updatedMessages;    // the new state of each, same order
    int timelineBefore = -1;             // timeline entries at the previous update
    QList<int> insertedTimelineIndexes;  // ascending
    QList<TimelineEntry> insertedTimeline; // same order; their messageIndex is after the update
    QList<Error> errors;                 // records the reducer could not fold in

    bool isEmpty() const
    {
        return insertedIndexes.isEmpty() && updatedIndexes.isEmpty() && insertedTimelineIndexes.isEmpty()
               && errors.isEmpty();
    }

    // Takes the reducer's changes and errors since the last call.
    static ConversationUpdate collect(ConversationReducer &reducer);
};

} // namespace sessionscope

Q_DECLARE_METATYPE(sessionscope::ConversationUpdate)
