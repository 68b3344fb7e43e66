#pragma once

#include "net/result.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <QString>

#include <functional>

namespace sessionscope {

// Reads an SSE capture of a session stream (a file or stdin) in chunks of at
// most 64 KiB, so memory stays flat whatever the capture's size, and hands each
// decoded event to the caller as soon as its bytes have arrived (a live
// `curl ... | sessionscope-cli decode -` prints records as they come).
class CaptureReader
{
public:
    static constexpr qsizetype ChunkSize = 64 * 1024;

    using EventHandler = std::function<void(S2Event &event)>;
    using ErrorHandler = std::function<void(const Error &error)>;
    using ChunkHandler = std::function<void()>;

    CaptureReader() = default;
    ~CaptureReader();
    CaptureReader(const CaptureReader &) = delete;
    CaptureReader &operator=(const CaptureReader &) = delete;

    // `path` "-" reads stdin.
    Result<void> open(const QString &path);

    // Reads to the end. Each event goes to onEvent, then what was wrong with
    // it (its decoding errors, a server `error` event) to onError, as do
    // framing errors (an oversized event, a capture cut inside an event).
    // afterChunk, when set, runs once the events of each chunk read are handed
    // over (to flush output). Fails only when reading itself fails.
    Result<void> run(const EventHandler &onEvent, const ErrorHandler &onError,
                     const ChunkHandler &afterChunk = {});

    const S2BatchDecoder &decoder() const { return m_decoder; }

private:
    QString m_name;
    int m_fd = -1;
    bool m_ownsFd = false;
    SseParser m_parser;
    S2BatchDecoder m_decoder;
};

} // namespace sessionscope
