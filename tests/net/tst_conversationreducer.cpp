#include "net/conversationreducer.h"
#include "net/s2batchdecoder.h"

#include "tests/net/netfixtures.h"

#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

StreamRecord dataRecord(qint64 seq, const json &data)
{
    StreamRecord r;
    r.seqNum = seq;
    r.timestamp = 5000 + seq;
    r.kind = RecordKind::Data;
    r.body = QByteArray::fromStdString(json({{"data", data}, {"id", "p" + std::to_string(seq)}}).dump());
    return r;
}

StreamRecord outRecord(qint64 seq, const char *chunkJson)
{
    return dataRecord(seq, json::parse(chunkJson));
}

// `.in` stores the appended ChatInputChunk as a string.
StreamRecord inRecord(qint64 seq, const json &chunk)
{
    return dataRecord(seq, chunk.dump());
}

StreamRecord controlRecord(qint64 seq, const QByteArray &subtype, const QByteArray &inSeq = {}, bool token = false)
{
    StreamRecord r;
    r.seqNum = seq;
    r.timestamp = 5000 + seq;
    r.kind = RecordKind::Control;
    r.headers = {{"trigger-control", subtype}};
    if (token)
        r.headers.append(StreamHeader("public-access-token", "eyJ.fake.sig"));
    if (!inSeq.isEmpty())
        r.headers.append(StreamHeader("session-in-event-id", inSeq));
    return r;
}

StreamRecord commandRecord(qint64 seq)
{
    StreamRecord r;
    r.seqNum = seq;
    r.kind = RecordKind::Command;
    r.headers = {{"", "trim"}};
    r.body = QByteArray(8, '\0');
    return r;
}

QList<StreamRecord> fixtureRecords(const QString &name)
{
    S2BatchDecoder decoder;
    QList<StreamRecord> records;
    for (const SseEvent &event : parseWhole(readFixture(name)))
        records += decoder.decode(event).records;
    return records;
}

QStringList errorMessages(ConversationReducer &reducer)
{
    QStringList out;
    for (const Error &e : reducer.takeErrors())
        out.append(e.message);
    return out;
}

json userMessageInput(const char *id, const char *text, const json &metadata = json::object())
{
    return {{"kind", "message"},
            {"payload",
             {{"chatId", "chat-1"},
              {"trigger", "submit-message"},
              {"metadata", metadata},
              {"message", {{"id", id}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", text}}}}}}}}};
}

// One answered turn on `.out` from `seq` on: start, a text part, finish,
// then (when inSeq is given) its turn-complete and trim.
QList<StreamRecord> answerTurn(qint64 seq, const char *messageId, const char *text, const QByteArray &inSeq = {})
{
    QList<StreamRecord> out{
        dataRecord(seq, {{"type", "start"}, {"messageId", messageId}}),
        dataRecord(seq + 1, {{"type", "text-start"}, {"id", "t"}}),
        dataRecord(seq + 2, {{"type", "text-delta"}, {"id", "t"}, {"delta", text}}),
        dataRecord(seq + 3, {{"type", "text-end"}, {"id", "t"}}),
        dataRecord(seq + 4, {{"type", "finish"}, {"finishReason", "stop"}}),
    };
    if (!inSeq.isEmpty()) {
        out.append(controlRecord(seq + 5, "turn-complete", inSeq));
        out.append(commandRecord(seq + 6));
    }
    return out;
}

StreamRecord userInput(qint64 seq, const char *id, const char *text, qint64 timestamp)
{
    StreamRecord r = inRecord(seq, userMessageInput(id, text));
    r.timestamp = timestamp;
    return r;
}

QStringList story(const ConversationReducer &reducer)
{
    QStringList out;
    for (const UIMessage &m : reducer.messages())
        out.append(roleName(m.role) + u':' + m.text());
    return out;
}

// The timeline as "kind:message" with the text of the message it names.
QStringList timelineStory(const ConversationReducer &reducer)
{
    QStringList out;
    for (const TimelineEntry &e : reducer.timeline()) {
        const QString text = e.messageIndex >= 0 ? reducer.messages().at(e.messageIndex).text() : QString();
        out.append(QStringLiteral("%1:%2").arg(int(e.kind)).arg(text));
    }
    return out;
}

constexpr int MessageKind = int(TimelineEntry::Kind::Message);
constexpr int TurnCompleteKind = int(TimelineEntry::Kind::TurnComplete);

QString entry(int kind, const char *text)
{
    return QStringLiteral("%1:%2").arg(kind).arg(QLatin1String(text));
}

} // namespace

class TestConversationReducer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void twoTurnsFixture();
    void twoTurnsIncrementalChanges();
    void batchingDoesNotMatter();
    void everyChunkType();
    void orderViolationsKeepText();
    void continuationOfAnApprovedMessage();
    void chunksWithoutStart();
    void upgradeRequired();
    void errorsAndAbort();
    void inputRecords();
    void mergedTimeline();
    void duplicatesAreSkipped();
    void undecodableBodies();
    void memoryDoesNotGrowPerDelta();
    void lateInputAfterTheWholeTurn();
    void lateInputWhileTheTurnStreams();
    void inputOnTimeStaysInArrivalOrder();
    void twoTurnsWithLateInput();
    void replayAfterLateInputChangesNothing();
};

void TestConversationReducer::twoTurnsFixture()
{
    ConversationReducer reducer;
    reducer.applyBatch(fixtureRecords(QStringLiteral("two-turns.sse")), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    QCOMPARE(reducer.lastSeq(Channel::Out), 21);
    QCOMPARE(reducer.lastSeq(Channel::In), -1);
    QCOMPARE(reducer.appliedRecords(), 22);

    const QList<UIMessage> &messages = reducer.messages();
    QCOMPARE(messages.size(), 2);
    const QStringList ids{QStringLiteral("JIVcwoE0UhCLLoNf"), QStringLiteral("TmjbJRIdtqllcDfe")};
    for (int i = 0; i < 2; ++i) {
        const UIMessage &m = messages[i];
        QCOMPARE(m.id, ids[i]);
        QCOMPARE(m.role, MessageRole::Assistant);
        QCOMPARE(m.channel, Channel::Out);
        QCOMPARE(m.text(), QStringLiteral("Hello, world"));
        QCOMPARE(m.reasoning(), QString());
        QCOMPARE(m.finishReason, QStringLiteral("stop"));
        QVERIFY(!m.streaming);
        QCOMPARE(m.firstSeq, i == 0 ? 0 : 11);
        QCOMPARE(m.lastSeq, i == 0 ? 8 : 19);
        QCOMPARE(m.parts.size(), 2);
        QCOMPARE(m.parts[0].type, MessagePart::Type::StepStart);
        QCOMPARE(m.parts[1].type, MessagePart::Type::Text);
        QCOMPARE(m.parts[1].id, QStringLiteral("t1"));
        QCOMPARE(m.parts[1].text, QStringLiteral("Hello, world"));
        QVERIFY(!m.parts[1].streaming);
    }

    const QList<TimelineEntry> &timeline = reducer.timeline();
    QCOMPARE(timeline.size(), 4);
    QCOMPARE(timeline[0].kind, TimelineEntry::Kind::Message);
    QCOMPARE(timeline[0].messageIndex, 0);
    QCOMPARE(timeline[0].seq, 0);
    QCOMPARE(timeline[1].kind, TimelineEntry::Kind::TurnComplete);
    QCOMPARE(timeline[1].seq, 9);
    QCOMPARE(timeline[1].subtype, QStringLiteral("turn-complete"));
    QCOMPARE(timeline[1].sessionInEventId, QStringLiteral("0"));
    QVERIFY(timeline[1].tokenRefreshed);
    QCOMPARE(timeline[1].messageIndex, 0);
    QCOMPARE(timeline[2].kind, TimelineEntry::Kind::Message);
    QCOMPARE(timeline[2].messageIndex, 1);
    QCOMPARE(timeline[2].seq, 11);
    QCOMPARE(timeline[3].kind, TimelineEntry::Kind::TurnComplete);
    QCOMPARE(timeline[3].seq, 20);
    QCOMPARE(timeline[3].sessionInEventId, QStringLiteral("1"));
    QCOMPARE(timeline[3].timestamp, 1763700000136);
}

void TestConversationReducer::twoTurnsIncrementalChanges()
{
    const QList<StreamRecord> records = fixtureRecords(QStringLiteral("two-turns.sse"));
    ConversationReducer reducer;
    QCOMPARE(reducer.takeChanges().isEmpty(), true);
    for (const StreamRecord &r : records) {
        reducer.apply(r, Channel::Out);
        const ConversationChanges changes = reducer.takeChanges();
        switch (r.seqNum) {
        case 0:
        case 11: // a start opens a message and its timeline entry
            QCOMPARE(changes.insertedMessages, QList<int>{r.seqNum == 0 ? 0 : 1});
            QCOMPARE(changes.insertedTimeline, QList<int>{r.seqNum == 0 ? 0 : 2});
            QVERIFY(changes.updatedMessages.isEmpty());
            break;
        case 9:
        case 20: // turn-complete: a timeline entry; the message already stopped at `finish`
            QVERIFY(changes.insertedMessages.isEmpty());
            QVERIFY(changes.updatedMessages.isEmpty());
            QCOMPARE(changes.insertedTimeline, QList<int>{r.seqNum == 9 ? 1 : 3});
            break;
        case 10:
        case 21: // trim: nothing to show
            QVERIFY(changes.isEmpty());
            break;
        default:
            QVERIFY(changes.insertedMessages.isEmpty());
            QCOMPARE(changes.updatedMessages, QList<int>{r.seqNum < 9 ? 0 : 1});
            QVERIFY(changes.insertedTimeline.isEmpty());
        }
    }
    // One batch: everything is an append, nothing an update.
    ConversationReducer batch;
    batch.applyBatch(records, Channel::Out);
    const ConversationChanges all = batch.takeChanges();
    QCOMPARE(all.insertedMessages, (QList<int>{0, 1}));
    QVERIFY(all.updatedMessages.isEmpty());
    QCOMPARE(all.insertedTimeline, (QList<int>{0, 1, 2, 3}));
    QVERIFY(batch.takeChanges().isEmpty());
}

void TestConversationReducer::batchingDoesNotMatter()
{
    const QList<StreamRecord> records = fixtureRecords(QStringLiteral("two-turns.sse"));
    ConversationReducer whole;
    whole.applyBatch(records, Channel::Out);
    for (int size = 1; size <= records.size(); ++size) {
        ConversationReducer reducer;
        for (qsizetype at = 0; at < records.size(); at += size)
            reducer.applyBatch(records.mid(at, size), Channel::Out);
        QCOMPARE(reducer.messages().size(), whole.messages().size());
        for (qsizetype i = 0; i < whole.messages().size(); ++i) {
            QCOMPARE(reducer.messages()[i].id, whole.messages()[i].id);
            QCOMPARE(reducer.messages()[i].text(), whole.messages()[i].text());
            QCOMPARE(reducer.messages()[i].parts.size(), whole.messages()[i].parts.size());
        }
        QCOMPARE(reducer.timeline().size(), whole.timeline().size());
    }
}

void TestConversationReducer::everyChunkType()
{
    const char *const chunks[] = {
        R"({"type":"start","messageId":"m1","messageMetadata":{"model":"mock","usage":{"in":1}}})",
        R"({"type":"start-step"})",
        R"({"type":"reasoning-start","id":"r1"})",
        R"({"type":"reasoning-delta","id":"r1","delta":"Let me "})",
        R"({"type":"reasoning-delta","id":"r1","delta":"think."})",
        R"({"type":"reasoning-end","id":"r1"})",
        R"({"type":"text-start","id":"t1"})",
        R"({"type":"text-delta","id":"t1","delta":"Checking the weather"})",
        R"({"type":"tool-input-start","toolCallId":"c1","toolName":"weather"})",
        R"({"type":"tool-input-delta","toolCallId":"c1","inputTextDelta":"{\"city\":"})",
        R"({"type":"tool-input-delta","toolCallId":"c1","inputTextDelta":"\"Paris\"}"})",
        R"({"type":"tool-input-available","toolCallId":"c1","toolName":"weather","input":{"city":"Paris"}})",
        R"({"type":"tool-output-available","toolCallId":"c1","output":{"temp":20}})",
        R"({"type":"tool-input-start","toolCallId":"c2","toolName":"deleteFile","dynamic":true})",
        R"({"type":"tool-input-available","toolCallId":"c2","toolName":"deleteFile","input":{"path":"/tmp/x"},"dynamic":true})",
        R"({"type":"tool-approval-request","approvalId":"a1","toolCallId":"c2"})",
        R"({"type":"tool-input-available","toolCallId":"c3","toolName":"search","input":{"q":"x"},"providerExecuted":true})",
        R"({"type":"tool-output-error","toolCallId":"c3","errorText":"quota exceeded"})",
        R"({"type":"tool-input-error","toolCallId":"c4","toolName":"calc","input":"1+","errorText":"bad input"})",
        R"({"type":"tool-input-available","toolCallId":"c5","toolName":"rm","input":{}})",
        R"({"type":"tool-output-denied","toolCallId":"c5"})",
        R"({"type":"data-weather","id":"d1","data":{"status":"loading"}})",
        R"({"type":"data-weather","id":"d1","data":{"status":"done"}})",
        R"({"type":"data-weather","data":{"anonymous":true}})",
        R"({"type":"data-progress","data":{"pct":50},"transient":true})",
        R"({"type":"source-url","sourceId":"s1","url":"https://example.org","title":"Example"})",
        R"({"type":"source-document","sourceId":"s2","mediaType":"application/pdf","title":"Doc"})",
        R"({"type":"file","url":"data:image/png;base64,AAAA","mediaType":"image/png"})",
        R"({"type":"text-delta","id":"t1","delta":": sunny."})",
        R"({"type":"text-end","id":"t1"})",
        R"({"type":"finish-step"})",
        R"({"type":"message-metadata","messageMetadata":{"usage":{"out":2}}})",
        R"({"type":"finish","finishReason":"tool-calls","messageMetadata":{"done":true}})",
    };
    ConversationReducer reducer;
    qint64 seq = 0;
    for (const char *chunk : chunks)
        reducer.apply(outRecord(seq++, chunk), Channel::Out);
    reducer.apply(controlRecord(seq++, "turn-complete", "4"), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());

    QCOMPARE(reducer.messages().size(), 1);
    const UIMessage &m = reducer.messages().first();
    QCOMPARE(m.id, QStringLiteral("m1"));
    QCOMPARE(m.finishReason, QStringLiteral("tool-calls"));
    QVERIFY(!m.streaming);
    QVERIFY(m.metadata == json::parse(R"({"model":"mock","usage":{"in":1,"out":2},"done":true})"));
    QCOMPARE(m.reasoning(), QStringLiteral("Let me think."));
    QCOMPARE(m.text(), QStringLiteral("Checking the weather: sunny."));

    using T = MessagePart::Type;
    QList<T> types;
    for (const MessagePart &p : m.parts)
        types.append(p.type);
    QCOMPARE(types, (QList<T>{T::StepStart, T::Reasoning, T::Text, T::Tool, T::Tool, T::Tool, T::Tool, T::Tool,
                              T::Data, T::Data, T::SourceUrl, T::SourceDocument, T::File}));

    const ToolCall &c1 = m.parts[3].tool;
    QCOMPARE(c1.toolCallId, QStringLiteral("c1"));
    QCOMPARE(c1.toolName, QStringLiteral("weather"));
    QCOMPARE(c1.state, ToolState::OutputAvailable);
    QVERIFY(c1.input == json::parse(R"({"city":"Paris"})"));
    QVERIFY(c1.output == json::parse(R"({"temp":20})"));
    QVERIFY(c1.inputText.isEmpty()); // superseded by the parsed input
    const ToolCall &c2 = m.parts[4].tool;
    QCOMPARE(c2.state, ToolState::ApprovalRequested);
    QCOMPARE(c2.approvalId, QStringLiteral("a1"));
    QVERIFY(c2.dynamic);
    QVERIFY(c2.output.is_null());
    const ToolCall &c3 = m.parts[5].tool;
    QCOMPARE(c3.state, ToolState::OutputError);
    QCOMPARE(c3.errorText, QStringLiteral("quota exceeded"));
    QVERIFY(c3.providerExecuted);
    const ToolCall &c4 = m.parts[6].tool;
    QCOMPARE(c4.state, ToolState::OutputError);
    QVERIFY(c4.input == json("1+"));
    QCOMPARE(c4.errorText, QStringLiteral("bad input"));
    QCOMPARE(m.parts[7].tool.state, ToolState::OutputDenied);
    QCOMPARE(toolStateName(m.parts[7].tool.state), QStringLiteral("output-denied"));

    QCOMPARE(m.parts[8].dataType, QStringLiteral("data-weather"));
    QCOMPARE(m.parts[8].id, QStringLiteral("d1"));
    QVERIFY(m.parts[8].data == json::parse(R"({"status":"done"})")); // same id: replaced
    QVERIFY(m.parts[9].data == json::parse(R"({"anonymous":true})"));
    QCOMPARE(m.parts[10].data["url"].get<std::string>(), std::string("https://example.org"));
    QCOMPARE(m.parts[12].data["mediaType"].get<std::string>(), std::string("image/png"));
}

void TestConversationReducer::orderViolationsKeepText()
{
    ConversationReducer reducer;
    reducer.apply(outRecord(0, R"({"type":"start","messageId":"m"})"), Channel::Out);
    reducer.apply(outRecord(1, R"({"type":"text-delta","id":"ghost","delta":"kept"})"), Channel::Out);
    reducer.apply(outRecord(2, R"({"type":"text-end","id":"never"})"), Channel::Out);
    reducer.apply(outRecord(3, R"({"type":"tool-output-available","toolCallId":"x","output":1})"), Channel::Out);
    reducer.apply(outRecord(4, R"({"type":"text-delta","id":"ghost"})"), Channel::Out);
    reducer.apply(outRecord(5, R"({"type":"brand-new-chunk"})"), Channel::Out);
    reducer.apply(outRecord(6, R"({"type":"tool-input-delta","inputTextDelta":"x"})"), Channel::Out);
    reducer.apply(outRecord(7, R"({"type":"tool-something","toolCallId":"x"})"), Channel::Out);
    QCOMPARE(errorMessages(reducer),
             (QStringList{QStringLiteral("seq 1: text-delta for text part \"ghost\" that is not open"),
                          QStringLiteral("seq 2: text-end for text part \"never\" that is not open"),
                          QStringLiteral("seq 3: tool-output-available for tool call \"x\" that was never started"),
                          QStringLiteral("seq 4: text-delta without a string delta"),
                          QStringLiteral("seq 5: unknown UIMessageChunk type \"brand-new-chunk\""),
                          QStringLiteral("seq 6: tool-input-delta without a string toolCallId"),
                          QStringLiteral("seq 7: unknown UIMessageChunk type \"tool-something\"")}));
    const UIMessage &m = reducer.messages().first();
    QCOMPARE(m.text(), QStringLiteral("kept"));
    QCOMPARE(m.parts.size(), 2);
    QVERIFY(m.parts[1].tool.output == json(1));
}

void TestConversationReducer::continuationOfAnApprovedMessage()
{
    // Turn 1 stops at an approval request; the client approves; the new turn's
    // start carries the same messageId and the AI SDK continues that message.
    ConversationReducer reducer;
    reducer.apply(outRecord(0, R"({"type":"start","messageId":"m1"})"), Channel::Out);
    reducer.apply(outRecord(1, R"({"type":"tool-input-available","toolCallId":"c1","toolName":"rm","input":{}})"),
                  Channel::Out);
    reducer.apply(outRecord(2, R"({"type":"tool-approval-request","approvalId":"a","toolCallId":"c1"})"), Channel::Out);
    reducer.apply(outRecord(3, R"({"type":"finish","finishReason":"tool-calls"})"), Channel::Out);
    reducer.apply(controlRecord(4, "turn-complete", "0"), Channel::Out);
    reducer.takeChanges();

    reducer.apply(outRecord(5, R"({"type":"start","messageId":"m1"})"), Channel::Out);
    reducer.apply(outRecord(6, R"({"type":"tool-output-available","toolCallId":"c1","output":"removed"})"), Channel::Out);
    reducer.apply(outRecord(7, R"({"type":"text-start","id":"t"})"), Channel::Out);
    reducer.apply(outRecord(8, R"({"type":"text-delta","id":"t","delta":"Done."})"), Channel::Out);
    reducer.apply(outRecord(9, R"({"type":"finish","finishReason":"stop"})"), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    QCOMPARE(reducer.messages().size(), 1);
    const UIMessage &m = reducer.messages().first();
    QCOMPARE(m.parts.size(), 2);
    QCOMPARE(m.parts[0].tool.state, ToolState::OutputAvailable);
    QVERIFY(m.parts[0].tool.output == json("removed"));
    QCOMPARE(m.text(), QStringLiteral("Done."));
    QCOMPARE(m.finishReason, QStringLiteral("stop"));
    const ConversationChanges changes = reducer.takeChanges();
    QVERIFY(changes.insertedMessages.isEmpty());
    QCOMPARE(changes.updatedMessages, QList<int>{0});
}

void TestConversationReducer::chunksWithoutStart()
{
    // A subscription that resumed mid-turn sees deltas first.
    ConversationReducer reducer;
    reducer.apply(outRecord(40, R"({"type":"text-start","id":"t"})"), Channel::Out);
    reducer.apply(outRecord(41, R"({"type":"text-delta","id":"t","delta":"tail end"})"), Channel::Out);
    QCOMPARE(reducer.messages().size(), 1);
    QVERIFY(reducer.messages()[0].id.isEmpty());
    QVERIFY(reducer.messages()[0].streaming);
    // A late start names the message those chunks opened.
    reducer.apply(outRecord(42, R"({"type":"start","messageId":"late"})"), Channel::Out);
    QCOMPARE(reducer.messages().size(), 1);
    QCOMPARE(reducer.messages()[0].id, QStringLiteral("late"));
    reducer.apply(controlRecord(43, "turn-complete"), Channel::Out);
    // The next start, after the turn ended, is a new message.
    reducer.apply(outRecord(44, R"({"type":"start","messageId":"next"})"), Channel::Out);
    QCOMPARE(reducer.messages().size(), 2);
    QCOMPARE(reducer.timeline()[1].kind, TimelineEntry::Kind::TurnComplete);
    QVERIFY(!reducer.timeline()[1].sessionInEventId.has_value());
    QVERIFY(!reducer.timeline()[1].tokenRefreshed);
    QCOMPARE(errorMessages(reducer), QStringList());
}

void TestConversationReducer::upgradeRequired()
{
    ConversationReducer reducer;
    reducer.apply(controlRecord(0, "upgrade-required"), Channel::Out);
    reducer.apply(outRecord(1, R"({"type":"start","messageId":"from-new-run"})"), Channel::Out);
    reducer.apply(outRecord(2, R"({"type":"finish","finishReason":"stop"})"), Channel::Out);
    reducer.apply(controlRecord(3, "turn-complete", "0", true), Channel::Out);
    reducer.apply(commandRecord(4), Channel::Out);
    StreamRecord custom = controlRecord(5, "something-new");
    reducer.apply(custom, Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    const QList<TimelineEntry> &t = reducer.timeline();
    QCOMPARE(t.size(), 4);
    QCOMPARE(t[0].kind, TimelineEntry::Kind::UpgradeRequired);
    QCOMPARE(t[0].messageIndex, -1);
    QCOMPARE(t[1].kind, TimelineEntry::Kind::Message);
    QCOMPARE(t[2].kind, TimelineEntry::Kind::TurnComplete);
    QVERIFY(t[2].tokenRefreshed);
    QCOMPARE(t[3].kind, TimelineEntry::Kind::Control);
    QCOMPARE(t[3].subtype, QStringLiteral("something-new"));
    QCOMPARE(reducer.lastSeq(Channel::Out), 5);
}

void TestConversationReducer::errorsAndAbort()
{
    ConversationReducer reducer;
    reducer.apply(outRecord(0, R"({"type":"error","errorText":"before any message"})"), Channel::Out);
    reducer.apply(outRecord(1, R"({"type":"start","messageId":"m"})"), Channel::Out);
    reducer.apply(outRecord(2, R"({"type":"error","errorText":"model overloaded"})"), Channel::Out);
    reducer.apply(outRecord(3, R"({"type":"error","errorText":"retry failed"})"), Channel::Out);
    reducer.apply(outRecord(4, R"({"type":"abort","reason":"user stop"})"), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    QCOMPARE(reducer.messages().size(), 1);
    const UIMessage &m = reducer.messages().first();
    QCOMPARE(m.errorText, QStringLiteral("model overloaded\nretry failed"));
    QVERIFY(m.aborted);
    QVERIFY(!m.streaming);
    const QList<TimelineEntry> &t = reducer.timeline();
    QCOMPARE(t.size(), 5);
    QCOMPARE(t[0].kind, TimelineEntry::Kind::Error);
    QCOMPARE(t[0].messageIndex, -1);
    QCOMPARE(t[0].text, QStringLiteral("before any message"));
    QCOMPARE(t[2].kind, TimelineEntry::Kind::Error);
    QCOMPARE(t[2].messageIndex, 0);
    QCOMPARE(t[4].kind, TimelineEntry::Kind::Abort);
    QCOMPARE(t[4].text, QStringLiteral("user stop"));
}

void TestConversationReducer::inputRecords()
{
    ConversationReducer reducer;
    reducer.apply(inRecord(0, userMessageInput("u1", "What's the weather?", {{"protocolVersion", 2}})), Channel::In);
    reducer.apply(inRecord(1, {{"kind", "stop"}, {"message", "enough"}}), Channel::In);
    reducer.apply(inRecord(2, {{"kind", "message"},
                               {"payload", {{"chatId", "chat-1"}, {"trigger", "action"}, {"action", {{"type", "undo"}}}}}}),
                  Channel::In);
    reducer.apply(inRecord(3, {{"kind", "message"}, {"payload", {{"chatId", "chat-1"}, {"trigger", "preload"}}}}),
                  Channel::In);
    json rich = userMessageInput("u2", "Look:");
    rich["payload"]["message"]["parts"].push_back(
        {{"type", "file"}, {"mediaType", "image/png"}, {"url", "data:image/png;base64,AA"}});
    rich["payload"]["message"]["parts"].push_back({{"type", "data-context"}, {"id", "ctx"}, {"data", {{"page", 3}}}});
    rich["payload"]["message"]["parts"].push_back({{"type", "tool-weather"},
                                                   {"toolCallId", "c9"},
                                                   {"state", "approval-responded"},
                                                   {"input", {{"city", "Oslo"}}},
                                                   {"approval", {{"id", "ap"}, {"approved", true}}}});
    rich["payload"]["message"]["parts"].push_back({{"type", "mystery"}, {"x", 1}});
    reducer.apply(inRecord(4, rich), Channel::In);
    reducer.apply(inRecord(5, {{"kind", "teleport"}}), Channel::In);
    reducer.apply(inRecord(6, {{"kind", "message"}}), Channel::In);

    QCOMPARE(errorMessages(reducer),
             (QStringList{QStringLiteral("seq 5: unknown ChatInputChunk kind \"teleport\""),
                          QStringLiteral("seq 6: a message input without a payload object")}));
    QCOMPARE(reducer.messages().size(), 2);
    const UIMessage &u1 = reducer.messages()[0];
    QCOMPARE(u1.id, QStringLiteral("u1"));
    QCOMPARE(u1.role, MessageRole::User);
    QCOMPARE(u1.channel, Channel::In);
    QCOMPARE(u1.text(), QStringLiteral("What's the weather?"));
    QCOMPARE(u1.trigger, QStringLiteral("submit-message"));
    QVERIFY(u1.clientData == json({{"protocolVersion", 2}}));
    QCOMPARE(u1.firstSeq, 0);

    const UIMessage &u2 = reducer.messages()[1];
    using T = MessagePart::Type;
    QCOMPARE(u2.parts.size(), 5);
    QCOMPARE(u2.parts[0].type, T::Text);
    QCOMPARE(u2.parts[1].type, T::File);
    QCOMPARE(u2.parts[2].type, T::Data);
    QCOMPARE(u2.parts[2].id, QStringLiteral("ctx"));
    QCOMPARE(u2.parts[3].type, T::Tool);
    QCOMPARE(u2.parts[3].tool.toolName, QStringLiteral("weather"));
    QCOMPARE(u2.parts[3].tool.state, ToolState::ApprovalResponded);
    QCOMPARE(u2.parts[3].tool.approvalId, QStringLiteral("ap"));
    QCOMPARE(u2.parts[4].type, T::Other);
    QCOMPARE(u2.parts[4].dataType, QStringLiteral("mystery"));

    const QList<TimelineEntry> &t = reducer.timeline();
    QCOMPARE(t.size(), 5);
    QCOMPARE(t[0].kind, TimelineEntry::Kind::Message);
    QCOMPARE(t[0].channel, Channel::In);
    QCOMPARE(t[0].subtype, QStringLiteral("submit-message"));
    QCOMPARE(t[1].kind, TimelineEntry::Kind::Stop);
    QCOMPARE(t[1].text, QStringLiteral("enough"));
    QCOMPARE(t[2].kind, TimelineEntry::Kind::Action);
    QVERIFY(json::parse(t[2].text.toStdString()) == json({{"type", "undo"}}));
    QCOMPARE(t[3].kind, TimelineEntry::Kind::Trigger);
    QCOMPARE(t[3].subtype, QStringLiteral("preload"));
    QCOMPARE(t[4].messageIndex, 1);
}

void TestConversationReducer::mergedTimeline()
{
    // Both channels into one reducer, in arrival order: reads like the chat.
    ConversationReducer reducer;
    reducer.apply(inRecord(0, userMessageInput("u1", "Hi")), Channel::In);
    reducer.applyBatch(fixtureRecords(QStringLiteral("two-turns.sse")).mid(0, 11), Channel::Out);
    reducer.apply(inRecord(1, userMessageInput("u2", "Again")), Channel::In);
    reducer.applyBatch(fixtureRecords(QStringLiteral("two-turns.sse")).mid(11), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    QStringList story;
    for (const UIMessage &m : reducer.messages())
        story.append(roleName(m.role) + u':' + m.text());
    QCOMPARE(story, (QStringList{"user:Hi", "assistant:Hello, world", "user:Again", "assistant:Hello, world"}));
    QCOMPARE(reducer.lastSeq(Channel::In), 1);
    QCOMPARE(reducer.lastSeq(Channel::Out), 21);

    // The resent assistant message of a tool approval is an entry, not a new message.
    json resend = userMessageInput("TmjbJRIdtqllcDfe", "");
    resend["payload"]["message"]["role"] = "assistant";
    reducer.apply(inRecord(2, resend), Channel::In);
    QCOMPARE(reducer.messages().size(), 4);
    QCOMPARE(reducer.timeline().last().kind, TimelineEntry::Kind::Trigger);
    QCOMPARE(reducer.timeline().last().messageIndex, 3);
}

void TestConversationReducer::duplicatesAreSkipped()
{
    const QList<StreamRecord> records = fixtureRecords(QStringLiteral("two-turns.sse"));
    ConversationReducer reducer;
    reducer.applyBatch(records.mid(0, 15), Channel::Out);
    reducer.takeChanges();
    // A resume that overlaps what was already applied.
    reducer.applyBatch(records.mid(10), Channel::Out);
    QCOMPARE(reducer.duplicatesSkipped(), 5);
    QCOMPARE(reducer.messages()[1].text(), QStringLiteral("Hello, world"));
    QCOMPARE(reducer.appliedRecords(), 22);
    QCOMPARE(errorMessages(reducer), QStringList());
    // Seqs are per channel: .in seq 3 is not a duplicate of .out seq 3.
    reducer.apply(inRecord(3, userMessageInput("u", "x")), Channel::In);
    QCOMPARE(reducer.messages().size(), 3);
}

void TestConversationReducer::undecodableBodies()
{
    ConversationReducer reducer;
    StreamRecord bad = outRecord(0, R"({"type":"start"})");
    bad.body = "{\"data\":";
    reducer.apply(bad, Channel::Out);
    // An .in-shaped body on .out: reported, and still read by its shape.
    reducer.apply(inRecord(1, userMessageInput("u", "misplaced")), Channel::Out);
    const QStringList errors = errorMessages(reducer);
    QCOMPARE(errors.size(), 2);
    QVERIFY2(errors[0].startsWith(QStringLiteral("seq 0: body is not JSON")), qPrintable(errors[0]));
    QCOMPARE(errors[1], QStringLiteral("seq 1: an .in-shaped body (data is a string) on .out"));
    QCOMPARE(reducer.messages().size(), 1);
    QCOMPARE(reducer.messages()[0].role, MessageRole::User);

    // A body decoded by the caller goes through the same path.
    const StreamRecord start = outRecord(2, R"({"type":"start","messageId":"pre"})");
    reducer.apply(start, Channel::Out, decodeBody(start).value());
    QCOMPARE(reducer.messages().last().id, QStringLiteral("pre"));
}

void TestConversationReducer::memoryDoesNotGrowPerDelta()
{
    // 50,000 deltas: the text grows, nothing else does.
    ConversationReducer reducer;
    reducer.apply(outRecord(0, R"({"type":"start","messageId":"m"})"), Channel::Out);
    reducer.apply(outRecord(1, R"({"type":"text-start","id":"t"})"), Channel::Out);
    reducer.takeChanges();
    const StreamRecord delta = outRecord(2, R"({"type":"text-delta","id":"t","delta":"ab"})");
    const DecodedBody body = decodeBody(delta).value();
    StreamRecord r = delta;
    for (qint64 seq = 2; seq < 50002; ++seq) {
        r.seqNum = seq;
        reducer.apply(r, Channel::Out, body);
    }
    QCOMPARE(reducer.messages().size(), 1);
    QCOMPARE(reducer.messages()[0].parts.size(), 1);
    QCOMPARE(reducer.messages()[0].text().size(), 100000);
    QCOMPARE(reducer.timeline().size(), 1);
    const ConversationChanges changes = reducer.takeChanges();
    QCOMPARE(changes.updatedMessages, QList<int>{0});
    QVERIFY(reducer.takeErrors().isEmpty());
}


void TestConversationReducer::lateInputAfterTheWholeTurn()
{
    // `.in` lags behind `.out` (an edge proxy): the whole answer, its
    // turn-complete and trim arrive before the user message they answer.
    ConversationReducer reducer;
    reducer.applyBatch(answerTurn(0, "a1", "Hello", "0"), Channel::Out);
    QCOMPARE(reducer.takeChanges().insertedMessages, QList<int>{0});
    reducer.apply(userInput(0, "u1", "Hi", 4000), Channel::In);
    QCOMPARE(errorMessages(reducer), QStringList());
    QCOMPARE(story(reducer), (QStringList{"user:Hi", "assistant:Hello"}));
    QCOMPARE(timelineStory(reducer),
             (QStringList{entry(MessageKind, "Hi"), entry(MessageKind, "Hello"), entry(TurnCompleteKind, "Hello")}));
    const ConversationChanges changes = reducer.takeChanges();
    QCOMPARE(changes.insertedMessages, QList<int>{0});
    QCOMPARE(changes.insertedTimeline, QList<int>{0});
    QVERIFY(changes.updatedMessages.isEmpty());
    // Lookups by id follow the move: a continuation of a1 updates it where it now is.
    reducer.apply(dataRecord(7, {{"type", "start"}, {"messageId", "a1"}}), Channel::Out);
    QCOMPARE(reducer.messages().size(), 2);
    QCOMPARE(reducer.takeChanges().updatedMessages, QList<int>{1});

    // An upgrade: the user message that caused it goes above the marker too.
    ConversationReducer upgrade;
    upgrade.apply(controlRecord(0, "upgrade-required"), Channel::Out);
    upgrade.applyBatch(answerTurn(1, "a1", "On v2", "0"), Channel::Out);
    upgrade.apply(userInput(0, "u1", "Hi", 4000), Channel::In);
    QCOMPARE(upgrade.timeline().first().kind, TimelineEntry::Kind::Message);
    QCOMPARE(upgrade.timeline()[1].kind, TimelineEntry::Kind::UpgradeRequired);
    QCOMPARE(story(upgrade), (QStringList{"user:Hi", "assistant:On v2"}));
}

void TestConversationReducer::lateInputWhileTheTurnStreams()
{
    ConversationReducer reducer;
    const QList<StreamRecord> turn = answerTurn(0, "a1", "Hello", "0");
    reducer.applyBatch(turn.mid(0, 3), Channel::Out); // start, text-start, a delta
    reducer.takeChanges();
    // Written before the answer started (server time), arriving after it: it started the turn.
    reducer.apply(userInput(0, "u1", "Hi", turn[0].timestamp - 10), Channel::In);
    QCOMPARE(story(reducer), (QStringList{"user:Hi", "assistant:Hello"}));
    ConversationChanges changes = reducer.takeChanges();
    QCOMPARE(changes.insertedMessages, QList<int>{0});
    QCOMPARE(changes.insertedTimeline, QList<int>{0});
    // The open message keeps streaming where it now is.
    reducer.apply(dataRecord(3, {{"type", "text-delta"}, {"id", "t"}, {"delta", ", you"}}), Channel::Out);
    changes = reducer.takeChanges();
    QVERIFY(changes.insertedMessages.isEmpty());
    QCOMPARE(changes.updatedMessages, QList<int>{1});
    reducer.applyBatch(turn.mid(3), Channel::Out);
    QCOMPARE(errorMessages(reducer), QStringList());
    QCOMPARE(story(reducer), (QStringList{"user:Hi", "assistant:Hello, you"}));
    QCOMPARE(reducer.timeline().last().kind, TimelineEntry::Kind::TurnComplete);
    QCOMPARE(reducer.timeline().last().messageIndex, 1);

    // A turn that consumed no `.in` (a boot message) still streaming when the
    // user writes: written after the answer started, so it stays below.
    ConversationReducer boot;
    const QList<StreamRecord> bootTurn = answerTurn(0, "a0", "Booted");
    boot.applyBatch(bootTurn.mid(0, 3), Channel::Out);
    boot.apply(userInput(0, "u1", "Hi", bootTurn[2].timestamp + 10), Channel::In);
    QCOMPARE(story(boot), (QStringList{"assistant:Booted", "user:Hi"}));

    // A second input while the turn of the first streams waits for its own turn.
    ConversationReducer queued;
    queued.apply(userInput(0, "u1", "Hi", 4000), Channel::In);
    queued.applyBatch(turn.mid(0, 3), Channel::Out);
    queued.apply(userInput(1, "u2", "And?", 4000), Channel::In);
    QCOMPARE(story(queued), (QStringList{"user:Hi", "assistant:Hello", "user:And?"}));
}

void TestConversationReducer::inputOnTimeStaysInArrivalOrder()
{
    ConversationReducer reducer;
    reducer.apply(userInput(0, "u1", "Hi", 4000), Channel::In);
    reducer.applyBatch(answerTurn(0, "a1", "Hello", "0"), Channel::Out);
    reducer.apply(userInput(1, "u2", "Again", 6000), Channel::In);
    reducer.applyBatch(answerTurn(7, "a2", "Hello again", "1"), Channel::Out);
    QCOMPARE(story(reducer), (QStringList{"user:Hi", "assistant:Hello", "user:Again", "assistant:Hello again"}));
    QCOMPARE(timelineStory(reducer),
             (QStringList{entry(MessageKind, "Hi"), entry(MessageKind, "Hello"), entry(TurnCompleteKind, "Hello"),
                          entry(MessageKind, "Again"), entry(MessageKind, "Hello again"),
                          entry(TurnCompleteKind, "Hello again")}));
    // Everything new was appended.
    const ConversationChanges changes = reducer.takeChanges();
    QCOMPARE(changes.insertedMessages, (QList<int>{0, 1, 2, 3}));
    QCOMPARE(changes.insertedTimeline, (QList<int>{0, 1, 2, 3, 4, 5}));
}

void TestConversationReducer::twoTurnsWithLateInput()
{
    QList<StreamRecord> out = answerTurn(0, "a1", "Hello", "0") + answerTurn(7, "a2", "Hello again", "1");
    const QList<StreamRecord> in{userInput(0, "u1", "Hi", 4000), userInput(1, "u2", "Again", 5006)};
    const QStringList expected{"user:Hi", "assistant:Hello", "user:Again", "assistant:Hello again"};
    const QStringList expectedTimeline{entry(MessageKind, "Hi"), entry(MessageKind, "Hello"),
                                       entry(TurnCompleteKind, "Hello"), entry(MessageKind, "Again"),
                                       entry(MessageKind, "Hello again"), entry(TurnCompleteKind, "Hello again")};

    // Both `.in` records after both turns, in one batch.
    ConversationReducer batch;
    batch.applyBatch(out, Channel::Out);
    batch.takeChanges();
    batch.applyBatch(in, Channel::In);
    QCOMPARE(story(batch), expected);
    QCOMPARE(timelineStory(batch), expectedTimeline);
    ConversationChanges changes = batch.takeChanges();
    QCOMPARE(changes.insertedMessages, (QList<int>{0, 2}));
    QCOMPARE(changes.insertedTimeline, (QList<int>{0, 3}));

    // Interleaved: each `.in` late by one turn, the second turn-complete after the second input.
    ConversationReducer interleaved;
    interleaved.applyBatch(out.mid(0, 7), Channel::Out);
    interleaved.applyBatch(out.mid(7, 3), Channel::Out); // turn 2 streams
    interleaved.apply(in[0], Channel::In);
    interleaved.takeChanges();
    interleaved.apply(in[1], Channel::In);
    changes = interleaved.takeChanges();
    QCOMPARE(changes.insertedMessages, QList<int>{2});
    QCOMPARE(changes.insertedTimeline, QList<int>{3});
    interleaved.applyBatch(out.mid(10), Channel::Out);
    QCOMPARE(errorMessages(interleaved), QStringList());
    QCOMPARE(story(interleaved), expected);
    QCOMPARE(timelineStory(interleaved), expectedTimeline);
}

void TestConversationReducer::replayAfterLateInputChangesNothing()
{
    const QList<StreamRecord> out = answerTurn(0, "a1", "Hello", "0") + answerTurn(7, "a2", "Hello again", "1");
    const QList<StreamRecord> in{userInput(0, "u1", "Hi", 4000), userInput(1, "u2", "Again", 5006)};
    ConversationReducer reducer;
    reducer.applyBatch(out, Channel::Out);
    reducer.applyBatch(in, Channel::In);
    const QStringList before = story(reducer);
    const QStringList timelineBefore = timelineStory(reducer);
    reducer.takeChanges();
    // Both subscriptions resume from the start: every record is a duplicate.
    reducer.applyBatch(in, Channel::In);
    reducer.applyBatch(out, Channel::Out);
    reducer.apply(in[0], Channel::In);
    QCOMPARE(reducer.duplicatesSkipped(), qint64(in.size() + out.size() + 1));
    QVERIFY(reducer.takeChanges().isEmpty());
    QCOMPARE(story(reducer), before);
    QCOMPARE(timelineStory(reducer), timelineBefore);
    QCOMPARE(errorMessages(reducer), QStringList());
}

QTEST_GUILESS_MAIN(TestConversationReducer)
#include "tst_conversationreducer.moc"
