#pragma once

#include "net/streamrecord.h"

#include <QByteArray>
#include <QObject>
#include <QString>

#include <deque>

namespace sessionscope {

// A committed record with its S2 wire form prepared once, so a fan-out to many
// subscribers serializes it once.
struct StoredRecord
{
    StreamRecord record;
    QByteArray wire; // {"seq_num":..,"timestamp":..,"body":"..","headers":[..]}

    static StoredRecord make(StreamRecord record);
    // S2's metered size: 8 + 2 per header + header bytes + body bytes.
    static qint64 meteredBytes(const QList<StreamHeader> &headers, qsizetype bodyBytes);
};

// The in-memory side of one durable stream (a session's `.in` or `.out`): its
// tail, trim point and a window of the newest committed records, from which
// SSE subscribers are served without touching SQLite. Owned by StreamStore;
// only StreamStore changes it, after the records are committed.
class DurableStream : public QObject
{
    Q_OBJECT

public:
    // S2 read batches hold at most 1000 records or 1 MiB.
    static constexpr int MaxBatchRecords = 1000;
    static constexpr qint64 MaxBatchBytes = 1024 * 1024;

    DurableStream(QString key, Channel channel, QObject *parent = nullptr);

    const QString &key() const { return m_key; }
    Channel channel() const { return m_channel; }

    // tail.seq_num: the next seq to be written.
    qint64 nextSeq() const { return m_nextSeq; }
    // Records below this seq were trimmed and are no longer served.
    qint64 trimSeq() const { return m_trimSeq; }
    StreamTail tail() const { return StreamTail{m_nextSeq, m_lastTimestamp}; }

    // The window holds [windowStart(), nextSeq()) contiguously.
    qint64 windowStart() const { return m_nextSeq - qint64(m_window.size()); }
    const StoredRecord *windowRecord(qint64 seq) const;

    // The `data:` JSON of a batch event for [from, to) out of the window, with
    // the current tail. Cached: subscribers at the same cursor share the bytes.
    // `to` is lowered to respect the batch limits; *end receives it.
    QByteArray batchJson(qint64 from, qint64 to, qint64 *end) const;

    int subscriberCount() const { return m_subscribers; }
    void addSubscriber() { ++m_subscribers; }
    void removeSubscriber() { --m_subscribers; }

    // Builds the batch JSON for arbitrary records (used for reads below the window).
    static QByteArray batchJsonFor(const QList<StoredRecord> &records, StreamTail tail);
    static QByteArray tailJson(StreamTail tail);

Q_SIGNALS:
    // New records [firstSeq, firstSeq + count) are committed and in the window.
    void appended(qint64 firstSeq, qint64 count);
    void trimmed(qint64 trimSeq);

private:
    friend class StreamStore;

    void push(StoredRecord record);
    void applyTrim(qint64 trimSeq);

    QString m_key;
    Channel m_channel;
    qint64 m_dbId = -1; // streams.id, -1 until the first record is written
    qint64 m_nextSeq = 0;
    qint64 m_trimSeq = 0;
    qint64 m_lastTimestamp = 0;
    std::deque<StoredRecord> m_window;
    qint64 m_windowBytes = 0;
    int m_windowMaxRecords = 2048;
    qint64 m_windowMaxBytes = 4 * 1024 * 1024;
    int m_subscribers = 0;
    int m_pending = 0;     // appends queued, not yet committed
    qint64 m_lastUsed = 0; // ms, for evicting idle streams

    mutable qint64 m_cacheFrom = -1;
    mutable qint64 m_cacheEnd = -1;
    mutable qint64 m_cacheTail = -1;
    mutable QByteArray m_cache;
};

} // namespace sessionscope
