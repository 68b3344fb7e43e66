// libFuzzer target: bytes of a session stream through the whole net core
// (SseParser -> S2BatchDecoder -> decodeBody -> ConversationReducer), split
// into chunks at points the input chooses, so framing across reads is fuzzed
// too. Invariants checked: memory stays bounded by the parser's cap and seqs
// handed to the reducer never crash it whatever their order.
#include "net/chunkbody.h"
#include "net/conversationreducer.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace sessionscope;

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
    S2BatchDecoder decoder;
    ConversationReducer reducer;
    QList<SseEvent> events;
    for (size_t offset = 0; offset < length; offset += step) {
        const size_t n = std::min(step, length - offset);
        events.clear();
        parser.feed(QByteArrayView(bytes + offset, qsizetype(n)), events);
        for (const SseEvent &event : events) {
            if (event.data.size() > 64 * 1024 + 1)
                abort(); // the cap must hold
            const S2Event decoded = decoder.decode(event);
            for (const StreamRecord &record : decoded.records) {
                if (record.kind == RecordKind::Data)
                    (void)decodeBody(record);
                reducer.apply(record, (record.seqNum & 1) ? Channel::In : Channel::Out);
            }
        }
    }
    (void)parser.finish();
    (void)parser.takeErrors();
    (void)reducer.takeErrors();
    (void)reducer.takeChanges();
    return 0;
}
