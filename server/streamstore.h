#pragma once

#include "net/result.h"
#include "net/streamrecord.h"
#include "server/durablestream.h"

#include <QElapsedTimer>
#include <QHash>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QTimer>

#include <functional>

namespace sessionscope {

class Database;

// One record to append. Build data/control/command records with the makers.
struct AppendRecord
{
    QByteArray body;
    QList<StreamHeader> headers;
    // Idempotency key (X-Part-Id): a repeat appends nothing and reports the
    // seq of the first append. Empty: no key.
    QByteArray partId;

    // {"data": data, "id": partId}: a data record as the agent writes it.
    static AppendRecord data(const QJsonValue &data, const QByteArray &partId);
    // A `trigger-control` record, e.g. control("turn-complete", {{"session-in-event-id", "4"}}).
    static AppendRecord control(const QByteArray &subtype,
                                const QList<StreamHeader> &extraHeaders = {});
    // An S2 trim command: records below `trimSeq` stop being served.
    static AppendRecord trim(qint64 trimSeq);
};

struct AppendOutcome
{
    qint64 seq = -1;
    qint64 timestamp = 0;
    bool duplicate = false; // the part id was seen before; nothing was written
};

// The durable streams: records in SQLite, tails and windows in memory.
//
// Appends are group-committed: everything queued in one event-loop turn goes
// into one transaction, and every callback runs after that COMMIT (so an
// acknowledged record is on disk). Seq numbers are assigned inside the
// transaction as max+1 of the stream, so a crash can lose only unacknowledged
// records and never leaves a gap. Part ids are stored in the same transaction
// as their record, so idempotency survives a restart.
class StreamStore : public QObject
{
    Q_OBJECT

public:
    using AppendCallback = std::function<void(const Result<AppendOutcome> &)>;

    // S2's per-record limit on the metered size.
    static constexpr qint64 MaxRecordBytes = 1024 * 1024;
    // A stream followed by this many SSE subscribers or more announces new
    // records (DurableStream::appended) at most once per fanoutIntervalMs():
    // each announcement costs a loopback write per subscriber (~5 us), so
    // group commits that come faster are delivered together. The interval
    // grows with the audience: 6 ms at 64 subscribers, 20 ms at 1,000.
    static constexpr int FanoutCoalesceSubscribers = 64;
    static int fanoutIntervalMs(int subscribers) { return qMin(25, 5 + subscribers / 64); }

    explicit StreamStore(Database &db, QObject *parent = nullptr);
    ~StreamStore() override;

    // The stream for (key, channel), loading its tail and trim point the first
    // time. A stream without subscribers may be evicted from memory once idle,
    // so keep the pointer only while subscribed (addSubscriber).
    Result<DurableStream *> stream(const QString &key, Channel channel);

    // Queues an append; `done` runs after it is committed or has failed.
    void append(DurableStream *stream, AppendRecord record, AppendCallback done = {});
    void append(const QString &key, Channel channel, AppendRecord record, AppendCallback done = {});
    // Commits what is queued now instead of at the end of the event-loop turn.
    void flush();

    // Committed records with seq >= fromSeq (clamped up to the trim point), at
    // most maxCount of them, oldest first.
    Result<QList<StoredRecord>> read(DurableStream *stream, qint64 fromSeq, int maxCount);
    Result<QList<StoredRecord>> read(const QString &key, Channel channel, qint64 fromSeq,
                                     int maxCount);

    int pendingAppends() const { return int(m_queue.size()); }
    // Forgets idle streams without subscribers (their state reloads on demand).
    void evictIdle(qint64 idleMs);

    static std::optional<qint64> trimTarget(const QList<StreamHeader> &headers,
                                            const QByteArray &body);

Q_SIGNALS:
    // Committed records of one stream, oldest first. For in-process readers
    // (the agent runtime): one signal per flushed group of records.
    void recordsAppended(const QString &key, sessionscope::Channel channel,
                         const QList<sessionscope::StreamRecord> &records);

private:
    struct Pending
    {
        DurableStream *stream;
        AppendRecord record;
        AppendCallback done;
    };

    Result<void> loadState(DurableStream *stream);
    void announce(DurableStream *stream, qint64 firstSeq);
    void announceDue();
    Result<QList<StoredRecord>> readFromDb(DurableStream *stream, qint64 fromSeq, int maxCount);
    static QString streamKey(const QString &key, Channel channel);

    Database &m_db;
    QHash<QString, DurableStream *> m_streams;
    QList<Pending> m_queue;
    QTimer m_flushTimer;
    QTimer m_evictTimer;
    // Coalesced announcements: per stream, when it last announced and the
    // first seq not yet announced.
    QElapsedTimer m_clock;
    QHash<DurableStream *, qint64> m_lastAnnounced;
    QHash<DurableStream *, qint64> m_unannounced;
    QTimer m_announceTimer;
};

} // namespace sessionscope
