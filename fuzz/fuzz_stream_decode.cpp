// libFuzzer target: bytes of a session stream through the whole net core
// (SseParser -> S2BatchDecoder -> decodeChunk / decodeBody ->
// ConversationReducer), split into chunks at points the input chooses, so
// framing across reads is fuzzed too. Invariants checked: memory stays bounded
// by the parser's cap; seqs handed to the reducer never crash it whatever
// their order; and every fast path agrees with the general one it stands in
// for: feedViews() with feed(), the compact batch layout with the general
// batch reader, decodeChunk() with decodeBody().
#include "net/chunkbody.h"
#include "net/conversationreducer.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace sessionscope;

namespace {

void check(bool invariant)
{
    if (!invariant)
        abort();
}

bool sameRecords(const S2Event &a, const S2Event &b)
{
    if (a.records.size() != b.records.size() || a.errors.size() != b.errors.size() ||
        a.tail.has_value() != b.tail.has_value())
        return false;
    if (a.tail && (a.tail->seqNum != b.tail->seqNum || a.tail->timestamp != b.tail->timestamp))
        return false;
    for (qsizetype i = 0; i < a.records.size(); ++i) {
        const StreamRecord &x = a.records[i];
        const StreamRecord &y = b.records[i];
        if (x.seqNum != y.seqNum || x.timestamp != y.timestamp || x.kind != y.kind || x.headers != y.headers ||
            x.body != y.body)
            return false;
    }
    return true;
}

// A batch read as written (S2's compact layout takes the literal path when it
// matches) and with a leading space (never compact): the same records.
void checkBatchPaths(const SseEvent &event)
{
    if (event.type != "batch")
        return;
    S2Event asIs;
    S2BatchDecoder::decodeBatchJson(event.data, asIs);
    S2Event general;
    S2BatchDecoder::decodeBatchJson(" " + event.data, general);
    check(sameRecords(asIs, general));
}

// decodeChunk() and decodeBody() agree on every record, and so does a body
// read by the general path (a leading space).
void checkChunk(const StreamRecord &record)
{
    const Result<DecodedChunk> chunk = decodeChunk(record);
    const Result<DecodedBody> body = decodeBody(record);
    check(chunk.ok() == body.ok());
    if (!chunk.ok()) {
        check(chunk.error().message == body.error().message);
        return;
    }
    check(chunk->partId == body->partId && chunk->chunkType == body->chunkType &&
          chunk->dataWasString == body->dataWasString);
    check(chunk->toJson() == body->data);
    StreamRecord spaced = record;
    spaced.body.prepend(' ');
    const Result<DecodedChunk> general = decodeChunk(spaced);
    check(general.ok() && general->toJson() == body->data && general->partId == body->partId &&
          general->memberCount() == chunk->memberCount());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The first byte picks the chunk size (1..256) so one input exercises one
    // split pattern; a small event cap makes the overflow path reachable.
    if (size == 0)
        return 0;
    const size_t step = size_t(data[0]) + 1;
    const auto *bytes = reinterpret_cast<const char *>(data + 1);
    const size_t length = size - 1;

    SseParser parser(64 * 1024);
    SseParser viewParser(64 * 1024);
    S2BatchDecoder decoder;
    S2BatchDecoder viewDecoder;
    S2Event viewEvent;
    ConversationReducer reducer;
    QList<SseEvent> events;
    QList<SseEvent> viewed;
    for (size_t offset = 0; offset < length; offset += step) {
        const size_t n = std::min(step, length - offset);
        const QByteArrayView piece(bytes + offset, qsizetype(n));
        events.clear();
        parser.feed(piece, events);
        viewed.clear();
        viewParser.feedViews(piece, [&](const SseEventView &view) {
            viewed.append(SseEvent{view.type.toByteArray(), view.data.toByteArray(), view.id.toByteArray()});
            viewDecoder.decode(view, viewEvent);
        });
        check(viewed == events);
        for (const SseEvent &event : events) {
            if (event.data.size() > 64 * 1024 + 1)
                abort(); // the cap must hold
            checkBatchPaths(event);
            const S2Event decoded = decoder.decode(event);
            for (const StreamRecord &record : decoded.records) {
                if (record.kind == RecordKind::Data)
                    checkChunk(record);
                reducer.apply(record, (record.seqNum & 1) ? Channel::In : Channel::Out);
            }
        }
        check(viewDecoder.recordCount() == decoder.recordCount() && viewDecoder.lastSeq() == decoder.lastSeq());
    }
    (void)parser.finish();
    (void)parser.takeErrors();
    (void)reducer.takeErrors();
    (void)reducer.takeChanges();
    return 0;
}
