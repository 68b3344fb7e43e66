#pragma once

#include "net/conversationreducer.h"
#include "net/result.h"
#include "net/uimessage.h"

#include <QList>
#include <QMetaType>

namespace sessionscope {

// What a ConversationReducer changed, copied out so it can cross threads: the
// reducer runs next to the decoder, the ConversationModel on the UI thread
// only applies these.
struct ConversationUpdate
{
    int firstAppendedMessage = -1;       // index of appendedMessages[0] in the conversation
    QList<UIMessage> appendedMessages;
    QList<int> updatedIndexes;           // ascending, all below firstAppendedMessage
    QList<UIMessage> updatedMessages;    // the new state of each, same order
    int firstAppendedTimeline = -1;      // index of appendedTimeline[0]
    QList<TimelineEntry> appendedTimeline;
    QList<Error> errors;                 // records the reducer could not fold in

    bool isEmpty() const
    {
        return appendedMessages.isEmpty() && updatedIndexes.isEmpty() && appendedTimeline.isEmpty()
               && errors.isEmpty();
    }

    // Takes the reducer's changes and errors since the last call.
    static ConversationUpdate collect(ConversationReducer &reducer);
};

} // namespace sessionscope

Q_DECLARE_METATYPE(sessionscope::ConversationUpdate)
