#include "server/durablestream.h"

#include "server/wirejson.h"

#include <charconv>
#include <cstring>

namespace sessionscope {

namespace {

char *writeText(char *out, QByteArrayView text)
{
    std::memcpy(out, text.data(), size_t(text.size()));
    return out + text.size();
}

char *writeNumber(char *out, qint64 value)
{
    return std::to_chars(out, out + 20, value).ptr;
}

// The common body, UTF-8 JSON text, as a JSON string: only quotes and
// backslashes need escaping. Null for anything else (control characters,
// invalid UTF-8), which wirejson::appendQuoted handles.
char *writeQuotedText(char *out, QByteArrayView body)
{
    *out++ = '"';
    bool ascii = true;
    for (const char ch : body) {
        const auto c = uchar(ch);
        if (c < 0x20)
            return nullptr;
        ascii = ascii && c < 0x80;
        if (c == '"' || c == '\\')
            *out++ = '\\';
        *out++ = ch;
    }
    if (!ascii && !wirejson::isValidUtf8(body))
        return nullptr;
    *out++ = '"';
    return out;
}

} // namespace

StoredRecord StoredRecord::make(StreamRecord record)
{
    // Built once per record and then copied into every batch that holds it
    // (catch-up reads build it for each record they load): raw writes into
    // one allocation instead of a dozen appends.
    StoredRecord out;
    QByteArray &w = out.wire;
    w.resize(80 + 2 * record.body.size());
    char *p = w.data();
    p = writeText(p, "{\"seq_num\":");
    p = writeNumber(p, record.seqNum);
    p = writeText(p, ",\"timestamp\":");
    p = writeNumber(p, record.timestamp);
    p = writeText(p, ",\"body\":");
    char *end = writeQuotedText(p, record.body);
    if (end) {
        w.resize(end - w.constData());
    } else {
        w.resize(p - w.constData());
        // Bodies are opaque: bytes that are not UTF-8 (a trim command's
        // big-endian seq) travel as \u00XX so they survive the trip.
        wirejson::appendQuoted(w, record.body, wirejson::InvalidUtf8::Latin1);
    }
    w.append(",\"headers\":[");
    for (qsizetype i = 0; i < record.headers.size(); ++i) {
        if (i)
            w.append(',');
        w.append('[');
        wirejson::appendQuoted(w, record.headers.at(i).first);
        w.append(',');
        wirejson::appendQuoted(w, record.headers.at(i).second);
        w.append(']');
    }
    w.append("]}");
    out.record = std::move(record);
    return out;
}

qint64 StoredRecord::meteredBytes(const QList<StreamHeader> &headers, qsizetype bodyBytes)
{
    qint64 n = 8 + bodyBytes;
    for (const auto &h : headers)
        n += 2 + h.first.size() + h.second.size();
    return n;
}

DurableStream::DurableStream(QString key, Channel channel, QObject *parent)
    : QObject(parent), m_key(std::move(key)), m_channel(channel)
{
}

const StoredRecord *DurableStream::windowRecord(qint64 seq) const
{
    const qint64 start = windowStart();
    if (seq < start || seq >= m_nextSeq)
        return nullptr;
    return &m_window[size_t(seq - start)];
}

QByteArray DurableStream::tailJson(StreamTail tail)
{
    QByteArray out = "{\"seq_num\":";
    out.append(QByteArray::number(tail.seqNum));
    out.append(",\"timestamp\":");
    out.append(QByteArray::number(tail.timestamp));
    out.append('}');
    return out;
}

QByteArray DurableStream::batchJsonFor(const QList<StoredRecord> &records, StreamTail tail)
{
    qsizetype size = 32;
    for (const auto &r : records)
        size += r.wire.size() + 1;
    QByteArray out;
    out.reserve(size + 64);
    out.append("{\"records\":[");
    for (qsizetype i = 0; i < records.size(); ++i) {
        if (i)
            out.append(',');
        out.append(records.at(i).wire);
    }
    out.append("],\"tail\":");
    out.append(tailJson(tail));
    out.append('}');
    return out;
}

QByteArray DurableStream::batchJson(qint64 from, qint64 to, qint64 *end) const
{
    from = qMax(from, windowStart());
    to = qMin(to, m_nextSeq);
    if (m_cacheFrom == from && m_cacheTail == m_nextSeq && m_cacheEnd <= to) {
        *end = m_cacheEnd;
        return m_cache;
    }
    qint64 bytes = 0;
    qint64 stop = from;
    while (stop < to && stop - from < MaxBatchRecords) {
        const StoredRecord &r = m_window[size_t(stop - windowStart())];
        const qint64 metered = StoredRecord::meteredBytes(r.record.headers, r.record.body.size());
        if (stop > from && bytes + metered > MaxBatchBytes)
            break;
        bytes += metered;
        ++stop;
    }
    QByteArray out;
    qsizetype size = 64;
    for (qint64 s = from; s < stop; ++s)
        size += m_window[size_t(s - windowStart())].wire.size() + 1;
    out.reserve(size);
    out.append("{\"records\":[");
    for (qint64 s = from; s < stop; ++s) {
        if (s > from)
            out.append(',');
        out.append(m_window[size_t(s - windowStart())].wire);
    }
    out.append("],\"tail\":");
    out.append(tailJson(tail()));
    out.append('}');
    m_cacheFrom = from;
    m_cacheEnd = stop;
    m_cacheTail = m_nextSeq;
    m_cache = out;
    *end = stop;
    return out;
}

void DurableStream::push(StoredRecord record)
{
    m_nextSeq = record.record.seqNum + 1;
    m_lastTimestamp = record.record.timestamp;
    m_windowBytes += record.wire.size();
    m_window.push_back(std::move(record));
    while (!m_window.empty() &&
           (qint64(m_window.size()) > m_windowMaxRecords || m_windowBytes > m_windowMaxBytes)) {
        m_windowBytes -= m_window.front().wire.size();
        m_window.pop_front();
    }
}

void DurableStream::applyTrim(qint64 trimSeq)
{
    if (trimSeq <= m_trimSeq)
        return;
    m_trimSeq = trimSeq;
    m_cacheFrom = -1;
    while (!m_window.empty() && m_window.front().record.seqNum < trimSeq) {
        m_windowBytes -= m_window.front().wire.size();
        m_window.pop_front();
    }
    Q_EMIT trimmed(trimSeq);
}

} // namespace sessionscope
