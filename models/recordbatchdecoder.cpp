#include "models/recordbatchdecoder.h"

#include "models/jsontext.h"

#include <limits>

namespace sessionscope {

using json = nlohmann::json;

namespace {

const QByteArray InvalidType = QByteArrayLiteral("(invalid)");

// Newlines and tabs would break a one-line cell; the arrow keeps a newline
// visible in a text delta.
QString oneLine(QString text, int maxChars)
{
    for (QChar &c : text) {
        if (c == u'\n')
            c = QChar(0x21B5); // ↵
        else if (c == u'\r' || c == u'\t')
            c = u' ';
    }
    if (maxChars > 0 && text.size() > maxChars) {
        text.truncate(maxChars - 1);
        if (!text.isEmpty() && text.back().isHighSurrogate())
            text.chop(1);
        text.append(QChar(0x2026)); // …
    }
    return text;
}

QString field(const json &object, const char *key)
{
    const auto it = object.find(key);
    return it == object.end() ? QString() : jsonText(*it);
}

QString joinNonEmpty(std::initializer_list<QString> parts, QStringView separator = u" ")
{
    QString out;
    for (const QString &part : parts) {
        if (part.isEmpty())
            continue;
        if (!out.isEmpty())
            out += separator;
        out += part;
    }
    return out;
}

QString summarizeOut(const QByteArray &type, const json &chunk)
{
    if (type == "text-delta" || type == "reasoning-delta")
        return field(chunk, "delta");
    if (type.endsWith("-start") && (type.startsWith("text") || type.startsWith("reasoning")))
        return field(chunk, "id");
    if (type.endsWith("-end") && (type.startsWith("text") || type.startsWith("reasoning")))
        return field(chunk, "id");
    if (type == "start")
        return joinNonEmpty({field(chunk, "messageId"), field(chunk, "messageMetadata")});
    if (type == "start-step" || type == "finish-step")
        return {};
    if (type == "finish")
        return field(chunk, "finishReason");
    if (type == "tool-input-start")
        return joinNonEmpty({field(chunk, "toolName"), field(chunk, "toolCallId")});
    if (type == "tool-input-delta")
        return field(chunk, "inputTextDelta");
    if (type == "tool-input-available")
        return joinNonEmpty({field(chunk, "toolName"), field(chunk, "input")});
    if (type == "tool-input-error")
        return joinNonEmpty({field(chunk, "toolName"), field(chunk, "errorText")}, u": ");
    if (type == "tool-output-available")
        return joinNonEmpty({field(chunk, "toolCallId"), field(chunk, "output")}, QStringView(u" \u2192 "));
    if (type == "tool-output-error")
        return joinNonEmpty({field(chunk, "toolCallId"), field(chunk, "errorText")}, u": ");
    if (type == "tool-approval-request")
        return joinNonEmpty({field(chunk, "toolCallId"), QStringLiteral("approval"), field(chunk, "approvalId")});
    if (type == "tool-output-denied")
        return field(chunk, "toolCallId");
    if (type == "error")
        return field(chunk, "errorText");
    if (type == "abort")
        return field(chunk, "reason");
    if (type == "message-metadata")
        return field(chunk, "messageMetadata");
    if (type == "source-url")
        return joinNonEmpty({field(chunk, "title"), field(chunk, "url")});
    if (type == "file")
        return joinNonEmpty({field(chunk, "mediaType"), field(chunk, "url")});
    if (type.startsWith("data-"))
        return field(chunk, "data");
    json rest = chunk;
    rest.erase("type");
    return rest.empty() ? QString() : jsonText(rest);
}

QString messageText(const json &message)
{
    QString out;
    const auto parts = message.find("parts");
    if (parts == message.end() || !parts->is_array())
        return out;
    for (const json &part : *parts) {
        if (part.is_object() && part.value("type", std::string()) == "text")
            out += field(part, "text");
    }
    return out;
}

QString summarizeIn(const QByteArray &kind, const json &chunk)
{
    if (kind == "stop")
        return field(chunk, "message");
    if (kind != "message")
        return jsonText(chunk);
    const auto payload = chunk.find("payload");
    if (payload == chunk.end() || !payload->is_object())
        return {};
    const QString trigger = field(*payload, "trigger");
    QString detail;
    if (const auto message = payload->find("message"); message != payload->end() && message->is_object())
        detail = messageText(*message);
    else if (trigger == u"action")
        detail = field(*payload, "action");
    return joinNonEmpty({trigger, detail}, u": ");
}

QString summarizeControl(const StreamRecord &record)
{
    QStringList parts;
    for (const StreamHeader &h : record.headers.mid(1)) {
        if (h.first == controlheader::SessionInEventId)
            parts.append(QStringLiteral("in seq %1").arg(QString::fromLatin1(h.second)));
        else if (h.first == controlheader::PublicAccessToken)
            parts.append(QStringLiteral("new access token")); // the token itself is a secret
        else
            parts.append(QString::fromUtf8(h.first) + u'=' + QString::fromUtf8(h.second));
    }
    return parts.join(QStringLiteral(" \u00b7 "));
}

} // namespace

RecordBatchDecoder::RecordBatchDecoder() : RecordBatchDecoder(Options{}) {}

RecordBatchDecoder::RecordBatchDecoder(Options options) : m_options(options)
{
    reset();
}

void RecordBatchDecoder::feedSse(Channel channel, QByteArrayView bytes)
{
    ChannelState &state = m_channels[slot(channel)];
    state.events.clear();
    state.parser.feed(bytes, state.events);
    m_errors.append(state.parser.takeErrors());
    for (const SseEvent &event : std::as_const(state.events))
        handleEvent(channel, event);
    state.events.clear();
}

void RecordBatchDecoder::finishSse(Channel channel)
{
    if (auto error = m_channels[slot(channel)].parser.finish())
        m_errors.append(*error);
}

void RecordBatchDecoder::handleEvent(Channel channel, const SseEvent &event)
{
    ChannelState &state = m_channels[slot(channel)];
    S2Event decoded = state.decoder.decode(event);
    m_errors.append(decoded.errors);
    for (const StreamRecord &record : std::as_const(decoded.records))
        addRecord(channel, record);
    if (decoded.tail)
        setTail(channel, *decoded.tail);
    if (decoded.type == S2Event::Type::Error)
        m_errors.append(Error::make(QStringLiteral("the server reported an error on the stream: %1").arg(decoded.serverError)));
}

void RecordBatchDecoder::setTail(Channel channel, const StreamTail &tail)
{
    ChannelState &state = m_channels[slot(channel)];
    if (!state.tail || state.tail->seqNum != tail.seqNum || state.tail->timestamp != tail.timestamp) {
        state.tail = tail;
        state.tailChanged = true;
    }
}

void RecordBatchDecoder::addRecords(Channel channel, const QList<StreamRecord> &records)
{
    for (const StreamRecord &record : records)
        addRecord(channel, record);
}

void RecordBatchDecoder::addRecord(Channel channel, const StreamRecord &record)
{
    ChannelState &state = m_channels[slot(channel)];
    if (record.seqNum <= state.lastSeq) {
        ++m_duplicates;
        return;
    }
    state.lastSeq = record.seqNum;
    ++m_decoded;

    if (record.kind != RecordKind::Data) {
        if (m_options.conversation)
            m_reducer.apply(record, channel);
        store(channel, record, record.subtype(), summarize(record, nullptr, m_options.maxSummaryChars), false);
        return;
    }
    Result<DecodedBody> body = decodeBody(record);
    if (!body) {
        m_errors.append(body.error());
        store(channel, record, InvalidType, oneLine(body.error().message, m_options.maxSummaryChars), true);
        return;
    }
    store(channel, record, body->chunkType, summarize(record, &*body, m_options.maxSummaryChars), false);
    if (m_options.conversation)
        m_reducer.apply(record, channel, *body);
}

quint16 RecordBatchDecoder::internType(const QByteArray &type)
{
    if (type.isEmpty())
        return 0;
    if (const auto it = m_batchTypes.constFind(type); it != m_batchTypes.constEnd())
        return *it;
    if (m_batch.types.size() > std::numeric_limits<quint16>::max())
        return 0; // absurdly many distinct types in one batch: the summary still names the record
    const auto at = quint16(m_batch.types.size());
    m_batch.types.append(type);
    m_batchTypes.insert(type, at);
    return at;
}

void RecordBatchDecoder::store(Channel channel, const StreamRecord &record, const QByteArray &type,
                               const QString &summary, bool decodeError)
{
    QByteArray summaryBytes = summary.toUtf8();
    if (summaryBytes.size() > std::numeric_limits<quint16>::max())
        summaryBytes.truncate(std::numeric_limits<quint16>::max());
    constexpr qint64 MaxBatchBytes = std::numeric_limits<quint32>::max();
    if (m_batch.bytes.size() + record.body.size() + compactheaders::payloadSize(record.headers)
            + 8 * record.headers.size() + summaryBytes.size() > MaxBatchBytes) {
        m_errors.append(Error::make(
            QStringLiteral("seq %1: the batch is full; the record is kept without its body").arg(record.seqNum),
            record.seqNum));
        StreamRecord bare = record;
        bare.headers.clear();
        bare.body.clear();
        store(channel, bare, type, summary, true);
        return;
    }

    CompactRecord r;
    r.seq = record.seqNum;
    r.timestamp = record.timestamp;
    r.offset = quint32(m_batch.bytes.size());
    compactheaders::append(m_batch.bytes, record.headers);
    r.headersLength = quint32(m_batch.bytes.size()) - r.offset;
    r.bodyLength = quint32(record.body.size());
    m_batch.bytes.append(record.body);
    r.summaryLength = quint16(summaryBytes.size());
    m_batch.bytes.append(summaryBytes);
    r.typeIndex = internType(type);
    r.kind = record.kind;
    r.flags = (channel == Channel::In ? CompactRecord::InChannel : 0) | (decodeError ? CompactRecord::DecodeError : 0)
              | (publicAccessToken(record) ? CompactRecord::TokenHeader : 0);
    m_batch.records.append(r);
    m_batch.wireBytes += record.body.size() + compactheaders::payloadSize(record.headers);
}

RecordBatch RecordBatchDecoder::takeBatch()
{
    RecordBatch out = std::exchange(m_batch, RecordBatch{});
    m_batch.types.append(QByteArray()); // index 0: no type
    m_batchTypes.clear();
    return out;
}

ConversationUpdate RecordBatchDecoder::takeConversationUpdate()
{
    return ConversationUpdate::collect(m_reducer);
}

QList<Error> RecordBatchDecoder::takeErrors()
{
    return std::exchange(m_errors, {});
}

std::optional<StreamTail> RecordBatchDecoder::takeTail(Channel channel)
{
    ChannelState &state = m_channels[slot(channel)];
    if (!state.tailChanged)
        return std::nullopt;
    state.tailChanged = false;
    return state.tail;
}

void RecordBatchDecoder::reset()
{
    for (ChannelState &state : m_channels) {
        state.parser.reset();
        state.decoder.reset();
        state.events.clear();
        state.lastSeq = -1;
        state.tail.reset();
        state.tailChanged = false;
    }
    m_reducer.clear();
    m_batch = RecordBatch{};
    m_batch.types.append(QByteArray());
    m_batchTypes.clear();
    m_errors.clear();
    m_duplicates = 0;
    m_decoded = 0;
}

QString RecordBatchDecoder::summarize(const StreamRecord &record, const DecodedBody *body,
                                      int maxChars)
{
    QString out;
    switch (record.kind) {
    case RecordKind::Control:
        out = summarizeControl(record);
        break;
    case RecordKind::Command:
        out = QStringLiteral("%1-byte body").arg(record.body.size());
        break;
    case RecordKind::Data:
        if (body)
            // The body's shape, not the channel it came on, says what the chunk is.
            out = body->channel() == Channel::In ? summarizeIn(body->chunkType, body->data)
                                                 : summarizeOut(body->chunkType, body->data);
        break;
    }
    return oneLine(std::move(out), maxChars);
}

} // namespace sessionscope
