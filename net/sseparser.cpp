#include "net/sseparser.h"

#include "net/bytescan.h"
#include "net/literal.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace sessionscope {

namespace {

// The first CR or LF at or after p, or end: one pass for both, a block at a time.
const char *findLineEnd(const char *p, const char *end)
{
    using namespace bytescan;
    while (end - p >= Block) {
        const Bytes bytes = load(p);
        if (const unsigned mask = equal(bytes, '\n') | equal(bytes, '\r'))
            return p + first(mask);
        p += Block;
    }
    while (p < end && *p != '\n' && *p != '\r')
        ++p;
    return p;
}

constexpr QByteArrayView MessageType("message");

constexpr char Bom[] = "\xEF\xBB\xBF";

} // namespace

SseParser::SseParser(qsizetype maxEventBytes) : m_maxEventBytes(std::max<qsizetype>(maxEventBytes, 1)) {}

void SseParser::feed(QByteArrayView bytes, QList<SseEvent> &out)
{
    feedViews(bytes, [&](const SseEventView &view) {
        SseEvent event;
        if (view.type.data() == MessageType.data()) {
            static const QByteArray message = MessageType.toByteArray();
            event.type = message;
        } else {
            if (m_dispatchedType != view.type)
                m_dispatchedType = view.type.toByteArray();
            event.type = m_dispatchedType;
        }
        event.data = view.data.toByteArray();
        event.id = lastEventId();
        out.append(std::move(event));
    });
}

QByteArray SseParser::lastEventId() const
{
    if (m_lastEventIdChanged) {
        m_lastEventIdBytes = QByteArray(m_lastEventId.data(), qsizetype(m_lastEventId.size()));
        m_lastEventIdChanged = false;
    }
    return m_lastEventIdBytes;
}

void SseParser::consume(QByteArrayView bytes, Sink sink)
{
    m_bytesFed += bytes.size();
    if (!m_bomDone) {
        // The BOM may itself arrive split across chunks.
        qsizetype i = 0;
        while (i < bytes.size() && m_bomMatched < 3 && bytes[i] == Bom[m_bomMatched]) {
            ++i;
            ++m_bomMatched;
        }
        if (m_bomMatched == 3) {
            m_bomDone = true;
            bytes = bytes.sliced(i);
        } else if (i == bytes.size()) {
            return;
        } else {
            // Not a BOM after all: the bytes held back are ordinary content.
            m_bomDone = true;
            bytes = bytes.sliced(i);
            consumeLines(QByteArrayView(Bom, m_bomMatched), sink);
            copyViewedData();
        }
    }
    consumeLines(bytes, sink);
    copyViewedData();
}

void SseParser::consumeLines(QByteArrayView bytes, Sink sink)
{
    const char *p = bytes.data();
    const char *const end = p + bytes.size();
    if (m_skipLF && p < end) {
        // A CR ended the previous chunk; an LF here belongs to the same line end.
        m_skipLF = false;
        if (*p == '\n')
            ++p;
    }
    while (p < end) {
        const char *const eol = findLineEnd(p, end);
        if (eol == end) {
            // An unfinished line: keep it for the next chunk, within the cap.
            if (m_skipping) {
                m_lineStarted = true;
            } else if (dataBytes() + qsizetype(m_line.size()) + (end - p) > m_maxEventBytes) {
                overflow();
                m_lineStarted = true;
            } else {
                m_line.append(p, size_t(end - p));
            }
            break;
        }

        const QByteArrayView piece(p, eol - p);
        if (m_skipping) {
            if (piece.isEmpty() && !m_lineStarted)
                m_skipping = false; // the blank line that ends the dropped event
            m_lineStarted = false;
        } else if (m_line.empty()) {
            processLine(piece, true, sink);
        } else if (dataBytes() + qsizetype(m_line.size()) + piece.size() > m_maxEventBytes) {
            overflow();
        } else {
            m_line.append(piece.data(), size_t(piece.size()));
            processLine(QByteArrayView(m_line.data(), qsizetype(m_line.size())), false, sink);
            m_line.clear(); // keeps the capacity for the next split line
        }

        p = eol + 1;
        if (*eol == '\r') {
            if (p < end) {
                if (*p == '\n')
                    ++p;
            } else {
                m_skipLF = true;
            }
        }
    }
}

void SseParser::processLine(QByteArrayView line, bool inInput, Sink sink)
{
    if (line.isEmpty()) {
        dispatch(sink);
        return;
    }
    if (line.front() == ':')
        return; // a comment
    if (dataBytes() + line.size() > m_maxEventBytes) {
        overflow();
        return;
    }
    // Field names are short: a plain loop beats a library call.
    qsizetype at = 0;
    while (at < line.size() && line[at] != ':')
        ++at;
    if (at == line.size()) {
        processField(line, {}, inInput);
        return;
    }
    QByteArrayView value = line.sliced(at + 1);
    if (!value.isEmpty() && value.front() == ' ')
        value = value.sliced(1);
    processField(line.first(at), value, inInput);
}

void SseParser::processField(QByteArrayView field, QByteArrayView value, bool inInput)
{
    if (equalsLiteral(field, "data")) {
        if (inInput && !m_dataViewed && m_data.empty()) {
            m_viewedData = value;
            m_dataViewed = true;
            return;
        }
        copyViewedData();
        m_data.append(value.data(), size_t(value.size()));
        m_data.push_back('\n');
    } else if (equalsLiteral(field, "event")) {
        m_eventType.assign(value.data(), size_t(value.size()));
    } else if (equalsLiteral(field, "id")) {
        const bool hasNul = !value.isEmpty() && std::memchr(value.data(), '\0', size_t(value.size()));
        if (!hasNul && std::string_view(value.data(), size_t(value.size())) != m_lastEventId) {
            m_lastEventId.assign(value.data(), size_t(value.size()));
            m_lastEventIdChanged = true;
        }
    } else if (equalsLiteral(field, "retry")) {
        // Only ASCII digits count; anything else (or an absurd value) is ignored.
        if (value.isEmpty() || value.size() > 18)
            return;
        qint64 ms = 0;
        for (const char c : value) {
            if (c < '0' || c > '9')
                return;
            ms = ms * 10 + (c - '0');
        }
        m_retryMs = ms;
    }
    // Any other field is ignored, as the spec says.
}

void SseParser::dispatch(Sink sink)
{
    if (!m_dataViewed && m_data.empty()) {
        m_eventType.clear();
        return;
    }
    SseEventView event;
    event.type = m_eventType.empty() ? MessageType : QByteArrayView(m_eventType.data(), qsizetype(m_eventType.size()));
    event.data = m_dataViewed ? m_viewedData : QByteArrayView(m_data.data(), qsizetype(m_data.size()) - 1);
    event.id = QByteArrayView(m_lastEventId.data(), qsizetype(m_lastEventId.size()));
    sink.call(sink.handler, event);
    // The buffers keep their capacity for the next event.
    m_dataViewed = false;
    m_data.clear();
    m_eventType.clear();
}

void SseParser::copyViewedData()
{
    if (!m_dataViewed)
        return;
    m_data.assign(m_viewedData.data(), size_t(m_viewedData.size()));
    m_data.push_back('\n');
    m_dataViewed = false;
}

void SseParser::overflow()
{
    m_errors.append(Error::make(
        QStringLiteral("SSE event larger than %1 bytes without a blank line: dropped it and "
                       "skipped to the next blank line")
            .arg(m_maxEventBytes)));
    // Give the memory back: the cap is reached only by a broken or hostile stream.
    m_dataViewed = false;
    m_data = std::string();
    m_line = std::string();
    m_eventType.clear();
    m_skipping = true;
    m_lineStarted = false;
}

QList<Error> SseParser::takeErrors()
{
    return std::exchange(m_errors, {});
}

bool SseParser::pendingEvent() const
{
    return dataBytes() > 0 || !m_line.empty() || (!m_bomDone && m_bomMatched > 0);
}

std::optional<Error> SseParser::finish()
{
    std::optional<Error> error;
    if (pendingEvent()) {
        error = Error::make(QStringLiteral("the stream ended inside an event (no blank line after "
                                           "its last line): %1 bytes discarded")
                                .arg(dataBytes() + qsizetype(m_line.size()) + (m_bomDone ? 0 : m_bomMatched)));
    }
    clearStreamState();
    return error;
}

void SseParser::clearStreamState()
{
    m_line = std::string();
    m_data = std::string();
    m_dataViewed = false;
    m_eventType = std::string();
    m_bomMatched = 0;
    m_bomDone = false;
    m_skipLF = false;
    m_skipping = false;
    m_lineStarted = false;
}

void SseParser::reset()
{
    clearStreamState();
    m_lastEventId = std::string();
    m_lastEventIdBytes = QByteArray();
    m_lastEventIdChanged = false;
    m_dispatchedType = QByteArray();
    m_retryMs.reset();
    m_errors.clear();
    m_bytesFed = 0;
}

} // namespace sessionscope
