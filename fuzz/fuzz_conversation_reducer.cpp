// libFuzzer target: ConversationReducer driven directly, one record per input
// line, so the fuzzer works on chunk sequences rather than on SSE framing.
// A line is `<op><step><payload>`:
//   op   o: `.out` data, payload = the UIMessageChunk (wrapped as the body
//           {"data": <payload>, "id": ...});  O: `.out` data, payload = the raw body
//        i: `.in` data, payload = the ChatInputChunk (wrapped as a JSON string);
//           I: `.in` data, payload = the raw body
//        t: turn-complete control (payload = session-in-event-id, if any);
//           T: the same carrying a public-access-token; u: upgrade-required;
//           c: a control record with the payload as its subtype; x: a trim command
//        k: takeChanges() here (no record)
//   step the seq advance on that op's channel: '0'..'9' (0 repeats the last seq),
//        '-' goes back two (out of order), anything else is +1.
// Invariants checked: the reducer never crashes; memory stays proportional to
// the input; what takeChanges() reports is exact (new messages and timeline
// entries are listed where they were inserted, the old ones keep their order
// and contents, an old message changed only when listed, old entries follow
// their messages); the timeline's message entries are in message order; the
// three ways in (record by record, pre-decoded body, batches) agree;
// replaying every record changes nothing.
#include "net/chunkbody.h"
#include "net/conversationreducer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace sessionscope;

namespace {

void check(bool invariant)
{
    if (!invariant)
        abort();
}

struct Step
{
    StreamRecord record;
    Channel channel = Channel::Out;
    bool take = false; // a takeChanges() checkpoint, not a record
};

QByteArray quotedJson(QByteArrayView text)
{
    const std::string s = nlohmann::json(text.toByteArray().toStdString())
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return QByteArray(s.data(), qsizetype(s.size()));
}

QList<Step> parseSteps(QByteArrayView input)
{
    QList<Step> steps;
    qint64 seq[2] = {-1, -1};
    qint64 timestamp = 1763700000000;
    for (QByteArrayView line : QByteArray::fromRawData(input.data(), input.size()).split('\n')) {
        if (line.isEmpty())
            continue;
        Step step;
        const char op = line[0];
        if (op == 'k') {
            step.take = true;
            steps.append(step);
            continue;
        }
        const char advance = line.size() > 1 ? line[1] : '1';
        const QByteArrayView payload = line.size() > 2 ? line.sliced(2) : QByteArrayView();
        StreamRecord &r = step.record;
        step.channel = (op == 'i' || op == 'I') ? Channel::In : Channel::Out;
        switch (op) {
        case 'o':
            r.body = "{\"data\":" + payload.toByteArray() + ",\"id\":\"p\"}";
            break;
        case 'i':
            r.body = "{\"data\":" + quotedJson(payload) + ",\"id\":\"p\"}";
            break;
        case 'O':
        case 'I':
            r.body = payload.toByteArray();
            break;
        case 't':
        case 'T':
            r.headers = {{controlheader::TriggerControl, controlheader::TurnComplete}};
            if (op == 'T')
                r.headers.append(StreamHeader(controlheader::PublicAccessToken, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
            if (!payload.isEmpty())
                r.headers.append(StreamHeader(controlheader::SessionInEventId, payload.toByteArray()));
            break;
        case 'u':
            r.headers = {{controlheader::TriggerControl, controlheader::UpgradeRequired}};
            break;
        case 'c':
            r.headers = {{controlheader::TriggerControl, payload.toByteArray()}};
            break;
        case 'x':
            r.headers = {{QByteArray(), "trim"}};
            r.body = QByteArray(8, '\0');
            break;
        default:
            continue;
        }
        r.kind = StreamRecord::kindFromHeaders(r.headers);
        qint64 &last = seq[step.channel == Channel::In ? 0 : 1];
        if (advance >= '0' && advance <= '9')
            last += advance - '0';
        else if (advance == '-')
            last -= 2;
        else
            last += 1;
        r.seqNum = last;
        // `.in` times follow its seq, so an `.in` record arriving after `.out`
        // can still be older than it, as when `.in` lags behind a proxy.
        r.timestamp = step.channel == Channel::In ? 1763700000000 + last : ++timestamp;
        steps.append(step);
    }
    return steps;
}

std::string dumped(const nlohmann::json &value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Everything a view shows of a message, as one comparable string.
QString describe(const UIMessage &m)
{
    QString out = QStringLiteral("%1|%2|%3|%4|%5|%6|%7|%8|%9")
                      .arg(m.id, roleName(m.role), QLatin1String(channelName(m.channel)))
                      .arg(m.firstSeq)
                      .arg(m.lastSeq)
                      .arg(int(m.streaming) + 2 * int(m.aborted))
                      .arg(m.finishReason, m.errorText, m.trigger);
    out += QString::fromStdString(dumped(m.metadata) + dumped(m.clientData));
    for (const MessagePart &p : m.parts) {
        out += QStringLiteral("\n%1|%2|%3|%4|%5|")
                   .arg(int(p.type))
                   .arg(p.id, p.text)
                   .arg(int(p.streaming))
                   .arg(p.dataType);
        out += QString::fromStdString(dumped(p.data));
        if (p.type == MessagePart::Type::Tool) {
            const ToolCall &t = p.tool;
            out += QStringLiteral("|%1|%2|%3|%4|%5|%6|%7")
                       .arg(t.toolCallId, t.toolName, toolStateName(t.state), t.inputText,
                            t.errorText, t.approvalId)
                       .arg(int(t.providerExecuted) + 2 * int(t.dynamic) + 4 * int(t.preliminary));
            out += QString::fromStdString(dumped(t.input) + dumped(t.output));
        }
    }
    return out;
}

// A timeline entry without the message index, which insertions renumber.
QString describe(const TimelineEntry &e)
{
    return QStringLiteral("T%1|%2|%3|%4|%5|%6|%7")
        .arg(int(e.kind))
        .arg(int(e.channel))
        .arg(e.seq)
        .arg(e.subtype, e.text, e.sessionInEventId.value_or(QStringLiteral("-")))
        .arg(int(e.tokenRefreshed));
}

QStringList describeAll(const ConversationReducer &reducer)
{
    QStringList out;
    for (const UIMessage &m : reducer.messages())
        out.append(describe(m));
    for (const TimelineEntry &e : reducer.timeline())
        out.append(describe(e) + QStringLiteral("|%1").arg(e.messageIndex));
    return out;
}

void checkAscending(const QList<int> &indexes, qsizetype bound)
{
    for (qsizetype i = 0; i < indexes.size(); ++i)
        check(indexes[i] >= 0 && indexes[i] < bound && (i == 0 || indexes[i - 1] < indexes[i]));
}

// Follows a reducer as a Qt model would and checks that takeChanges() told
// it everything.
class ModelShadow
{
public:
    void take(ConversationReducer &reducer)
    {
        const ConversationChanges changes = reducer.takeChanges();
        const QList<UIMessage> &messages = reducer.messages();
        const QList<TimelineEntry> &timeline = reducer.timeline();
        const QList<int> &inserted = changes.insertedMessages;
        const QList<int> &updated = changes.updatedMessages;
        checkAscending(inserted, messages.size());
        checkAscending(updated, messages.size());
        checkAscending(changes.insertedTimeline, timeline.size());
        check(messages.size() == m_messages.size() + inserted.size());
        check(timeline.size() == m_timeline.size() + changes.insertedTimeline.size());

        // Without the inserted ones, messages are the old ones in their order;
        // an old one that changed was reported, a new one never as updated.
        QList<int> newIndexOfOld;
        qsizetype next = 0;
        for (int i = 0; i < messages.size(); ++i) {
            const bool isUpdated = std::binary_search(updated.begin(), updated.end(), i);
            if (next < inserted.size() && inserted[next] == i) {
                check(!isUpdated);
                ++next;
                continue;
            }
            if (!isUpdated)
                check(describe(messages[i]) == m_messages[newIndexOfOld.size()]);
            newIndexOfOld.append(i);
        }
        // Old timeline entries: same order and contents, naming the same messages.
        next = 0;
        qsizetype old = 0;
        for (int i = 0; i < timeline.size(); ++i) {
            if (next < changes.insertedTimeline.size() && changes.insertedTimeline[next] == i) {
                ++next;
                continue;
            }
            const auto &[text, messageIndex] = m_timeline[old++];
            check(describe(timeline[i]) == text);
            check(timeline[i].messageIndex == (messageIndex < 0 ? messageIndex : newIndexOfOld[messageIndex]));
        }

        m_messages.clear();
        for (const UIMessage &m : messages)
            m_messages.append(describe(m));
        m_timeline.clear();
        for (const TimelineEntry &e : timeline)
            m_timeline.append({describe(e), e.messageIndex});
        check(reducer.takeChanges().isEmpty());
    }

private:
    QStringList m_messages;
    QList<QPair<QString, int>> m_timeline;
};

void checkStructure(const ConversationReducer &reducer, qsizetype records, size_t inputSize)
{
    const qsizetype messages = reducer.messages().size();
    check(reducer.appliedRecords() + reducer.duplicatesSkipped() == records);
    check(messages <= reducer.appliedRecords());
    check(reducer.timeline().size() <= reducer.appliedRecords());
    // Each message has one message entry, and those are in message order.
    int messageEntries = 0;
    for (const TimelineEntry &e : reducer.timeline()) {
        check(e.messageIndex >= -1 && e.messageIndex < messages);
        if (e.kind == TimelineEntry::Kind::Message)
            check(e.messageIndex == messageEntries++);
    }
    check(messageEntries == messages);
    // Memory follows the input: every character shown came from it.
    qsizetype chars = 0;
    qsizetype parts = 0;
    for (const UIMessage &m : reducer.messages()) {
        chars += m.errorText.size() + m.id.size();
        parts += m.parts.size();
        for (const MessagePart &p : m.parts)
            chars += p.text.size() + p.tool.inputText.size() + p.tool.errorText.size();
    }
    check(chars <= qsizetype(2 * inputSize));
    check(parts <= qsizetype(inputSize));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QList<Step> steps = parseSteps(QByteArrayView(reinterpret_cast<const char *>(data), qsizetype(size)));

    ConversationReducer byRecord;
    ConversationReducer preDecoded;
    ModelShadow shadow;
    qsizetype count = 0;
    QList<QPair<Channel, QList<StreamRecord>>> batches;
    for (const Step &step : steps) {
        if (step.take) {
            shadow.take(byRecord);
            continue;
        }
        ++count;
        byRecord.apply(step.record, step.channel);
        const Result<DecodedBody> body = step.record.kind == RecordKind::Data
                                             ? decodeBody(step.record)
                                             : Result<DecodedBody>(Error::make(QString()));
        if (body)
            preDecoded.apply(step.record, step.channel, *body);
        else
            preDecoded.apply(step.record, step.channel);
        if (batches.isEmpty() || batches.last().first != step.channel)
            batches.append({step.channel, {}});
        batches.last().second.append(step.record);
    }
    shadow.take(byRecord);
    checkStructure(byRecord, count, size);

    const QStringList state = describeAll(byRecord);
    check(describeAll(preDecoded) == state);
    const qsizetype errors = byRecord.takeErrors().size();
    const QList<Error> preDecodedErrors = preDecoded.takeErrors();
    check(preDecodedErrors.size() == errors);
    for (const Error &e : preDecodedErrors)
        check(!e.message.isEmpty() && e.seq >= -1);

    ConversationReducer batched;
    for (const auto &[channel, batch] : batches)
        batched.applyBatch(batch, channel);
    check(describeAll(batched) == state);
    check(batched.takeErrors().size() == errors);

    // A resume replays what was seen: nothing changes, each one is skipped.
    const qint64 skipped = byRecord.duplicatesSkipped();
    for (const auto &[channel, batch] : batches)
        byRecord.applyBatch(batch, channel);
    check(byRecord.duplicatesSkipped() == skipped + count);
    check(byRecord.takeChanges().isEmpty());
    check(byRecord.takeErrors().isEmpty());
    check(describeAll(byRecord) == state);

    byRecord.clear();
    check(byRecord.messages().isEmpty() && byRecord.timeline().isEmpty() && byRecord.lastSeq(Channel::Out) == -1);
    return 0;
}
