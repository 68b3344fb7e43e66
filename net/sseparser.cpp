#include "net/sseparser.h"

#include <algorithm>
#include <cstring>

namespace sessionscope {

namespace {

const char *findByte(const char *from, const char *end, char byte)
{
    if (from == end)
        return end; // memchr must not see a null pointer, even for 0 bytes
    const void *hit = std::memchr(from, byte, size_t(end - from));
    return hit ? static_cast<const char *>(hit) : end;
}

const QByteArray &messageType()
{
    static const QByteArray type("message");
    return type;
}

constexpr char Bom[] = "\xEF\xBB\xBF";

} // namespace

SseParser::SseParser(qsizetype maxEventBytes) : m_maxEventBytes(std::max<qsizetype>(maxEventBytes, 1)) {}

void SseParser::feed(QByteArrayView bytes, QList<SseEvent> &out)
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
            consumeLines(QByteArrayView(Bom, m_bomMatched), out);
        }
    }
    consumeLines(bytes, out);
}

void SseParser::consumeLines(QByteArrayView bytes, QList<SseEvent> &out)
{
    const char *p = bytes.data();
    const char *const end = p + bytes.size();
    if (m_skipLF && p < end) {
        // A CR ended the previous chunk; an LF here belongs to the same line end.
        m_skipLF = false;
        if (*p == '\n')
            ++p;
    }
    // Each memchr result is reused until passed, so every byte is scanned at most
    // once per terminator kind even on LF-only or CR-only streams.
    const char *cr = findByte(p, end, '\r');
    const char *lf = findByte(p, end, '\n');
    while (p < end) {
        if (cr < p)
            cr = findByte(p, end, '\r');
        if (lf < p)
            lf = findByte(p, end, '\n');
        const char *eol = std::min(cr, lf);
        if (eol == end) {
            // An unfinished line: keep it for the next chunk, within the cap.
            if (m_skipping) {
                m_lineStarted = true;
            } else if (qsizetype(m_data.size() + m_line.size()) + (end - p) > m_maxEventBytes) {
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
            processLine(piece, out);
        } else if (qsizetype(m_data.size() + m_line.size()) + piece.size() > m_maxEventBytes) {
            overflow();
        } else {
            m_line.append(piece.data(), size_t(piece.size()));
            processLine(QByteArrayView(m_line.data(), qsizetype(m_line.size())), out);
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

void SseParser::processLine(QByteArrayView line, QList<SseEvent> &out)
{
    if (line.isEmpty()) {
        dispatch(out);
        return;
    }
    if (line.front() == ':')
        return; // a comment
    if (qsizetype(m_data.size()) + line.size() > m_maxEventBytes) {
        overflow();
        return;
    }
    const char *colon = static_cast<const char *>(std::memchr(line.data(), ':', size_t(line.size())));
    if (!colon) {
        processField(line, {});
        return;
    }
    const qsizetype at = colon - line.data();
    QByteArrayView value = line.sliced(at + 1);
    if (!value.isEmpty() && value.front() == ' ')
        value = value.sliced(1);
    processField(line.first(at), value);
}

void SseParser::processField(QByteArrayView field, QByteArrayView value)
{
    if (field == "data") {
        m_data.append(value.data(), size_t(value.size()));
        m_data.push_back('\n');
    } else if (field == "event") {
        m_eventType.assign(value.data(), size_t(value.size()));
    } else if (field == "id") {
        if (!value.contains('\0') && value != m_lastEventId)
            m_lastEventId = value.toByteArray();
    } else if (field == "retry") {
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

void SseParser::dispatch(QList<SseEvent> &out)
{
    if (m_data.empty()) {
        m_eventType.clear();
        return;
    }
    SseEvent event;
    if (m_eventType.empty()) {
        event.type = messageType();
    } else {
        const QByteArrayView type(m_eventType.data(), qsizetype(m_eventType.size()));
        if (m_dispatchedType != type)
            m_dispatchedType = type.toByteArray();
        event.type = m_dispatchedType;
    }
    // A copy: m_data keeps its capacity for the next event.
    event.data = QByteArray(m_data.data(), qsizetype(m_data.size()) - 1);
    event.id = m_lastEventId;
    out.append(std::move(event));
    m_data.clear();
    m_eventType.clear();
}

void SseParser::overflow()
{
    m_errors.append(Error::make(
        QStringLiteral("SSE event larger than %1 bytes without a blank line: dropped it and "
                       "skipped to the next blank line")
            .arg(m_maxEventBytes)));
    // Give the memory back: the cap is reached only by a broken or hostile stream.
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
    return !m_data.empty() || !m_line.empty() || (!m_bomDone && m_bomMatched > 0);
}

std::optional<Error> SseParser::finish()
{
    std::optional<Error> error;
    if (pendingEvent()) {
        error = Error::make(QStringLiteral("the stream ended inside an event (no blank line after "
                                           "its last line): %1 bytes discarded")
                                .arg(qsizetype(m_data.size() + m_line.size()) + (m_bomDone ? 0 : m_bomMatched)));
    }
    clearStreamState();
    return error;
}

void SseParser::clearStreamState()
{
    m_line = std::string();
    m_data = std::string();
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
    m_lastEventId = QByteArray();
    m_dispatchedType = QByteArray();
    m_retryMs.reset();
    m_errors.clear();
    m_bytesFed = 0;
}

} // namespace sessionscope
