#include "models/conversationupdate.h"

namespace sessionscope {

ConversationUpdate ConversationUpdate::collect(ConversationReducer &reducer)
{
    const ConversationChanges changes = reducer.takeChanges();
    ConversationUpdate out;
    const QList<UIMessage> &messages = reducer.messages();
    const QList<TimelineEntry> &timeline = reducer.timeline();
    out.messagesBefore = int(messages.size() - changes.insertedMessages.size());
    out.insertedIndexes = changes.insertedMessages;
    out.insertedMessages.reserve(changes.insertedMessages.size());
    for (int index : changes.insertedMessages)
        out.insertedMessages.append(messages.at(index));
    out.updatedIndexes = changes.updatedMessages;
    out.updatedMessages.reserve(changes.updatedMessages.size());
    for (int index : changes.updatedMessages)
        out.updatedMessages.append(messages.at(index));
    out.timelineBefore = int(timeline.size() - changes.insertedTimeline.size());
    out.insertedTimelineIndexes = changes.insertedTimeline;
    out.insertedTimeline.reserve(changes.insertedTimeline.size());
    for (int index : changes.insertedTimeline)
        out.insertedTimeline.append(timeline.at(index));
    out.errors = reducer.takeErrors();
    return out;
}

} // namespace sessionscope
