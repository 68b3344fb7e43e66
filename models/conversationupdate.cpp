#include "models/conversationupdate.h"

namespace sessionscope {

ConversationUpdate ConversationUpdate::collect(ConversationReducer &reducer)
{
    const ConversationChanges changes = reducer.takeChanges();
    ConversationUpdate out;
    const QList<UIMessage> &messages = reducer.messages();
    if (changes.firstAppendedMessage >= 0) {
        out.firstAppendedMessage = changes.firstAppendedMessage;
        out.appendedMessages = messages.mid(changes.firstAppendedMessage);
    }
    out.updatedIndexes = changes.updatedMessages;
    out.updatedMessages.reserve(changes.updatedMessages.size());
    for (int index : changes.updatedMessages)
        out.updatedMessages.append(messages.at(index));
    if (changes.firstAppendedTimeline >= 0) {
        out.firstAppendedTimeline = changes.firstAppendedTimeline;
        out.appendedTimeline = reducer.timeline().mid(changes.firstAppendedTimeline);
    }
    out.errors = reducer.takeErrors();
    return out;
}

} // namespace sessionscope
