#include "server/streamstore.h"

#include "server/database.h"
#include "server/wirejson.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlError>
#include <QSqlQuery>
#include <QtEndian>

namespace sessionscope {

namespace {

QByteArray headersText(const QList<StreamHeader> &headers)
{
    if (headers.isEmpty())
        return {};
    QByteArray out = "[";
    for (qsizetype i = 0; i < headers.size(); ++i) {
        if (i)
            out.append(',');
        out.append('[');
        wirejson::appendQuoted(out, headers.at(i).first);
        out.append(',');
        wirejson::appendQuoted(out, headers.at(i).second);
        out.append(']');
    }
    out.append(']');
    return out;
}

QList<StreamHeader> headersFrom(const QVariant &value)
{
    QList<StreamHeader> out;
    if (value.isNull())
        return out;
    const auto parsed = wirejson::parse(value.toByteArray());
    if (!parsed || !parsed->is_array())
        return out;
    for (const auto &pair : *parsed) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
            continue;
        const std::string &name = pair[0].get_ref<const std::string &>();
        const std::string &v = pair[1].get_ref<const std::string &>();
        out.append({QByteArray(name.data(), qsizetype(name.size())),
                    QByteArray(v.data(), qsizetype(v.size()))});
    }
    return out;
}

Error httpError(int status, const QString &message)
{
    Error e = Error::make(message);
    e.httpStatus = status;
    return e;
}

} // namespace

AppendRecord AppendRecord::data(const QJsonValue &data, const QByteArray &partId)
{
    // Key order as JSON.stringify({data, id}) writes it.
    QByteArray body = "{\"data\":";
    const QByteArray wrapped =
        QJsonDocument(QJsonObject{{QStringLiteral("v"), data}}).toJson(QJsonDocument::Compact);
    body.append(wrapped.mid(5, wrapped.size() - 6)); // strip {"v": and }
    body.append(",\"id\":");
    wirejson::appendQuoted(body, partId);
    body.append('}');
    return AppendRecord{body, {}, partId};
}

AppendRecord AppendRecord::control(const QByteArray &subtype,
                                   const QList<StreamHeader> &extraHeaders)
{
    AppendRecord r;
    r.headers.append({QByteArrayLiteral("trigger-control"), subtype});
    r.headers.append(extraHeaders);
    return r;
}

AppendRecord AppendRecord::trim(qint64 trimSeq)
{
    AppendRecord r;
    r.headers.append({QByteArray(), QByteArrayLiteral("trim")});
    r.body.resize(8);
    qToBigEndian<quint64>(quint64(qMax<qint64>(0, trimSeq)), r.body.data());
    return r;
}

StreamStore::StreamStore(Database &db, QObject *parent) : QObject(parent), m_db(db)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(0);
    connect(&m_flushTimer, &QTimer::timeout, this, &StreamStore::flush);
    m_clock.start();
    m_announceTimer.setSingleShot(true);
    m_announceTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_announceTimer, &QTimer::timeout, this, &StreamStore::announceDue);
    m_evictTimer.setInterval(30'000);
    connect(&m_evictTimer, &QTimer::timeout, this, [this] { evictIdle(60'000); });
    m_evictTimer.start();
}

StreamStore::~StreamStore()
{
    flush();
}

QString StreamStore::streamKey(const QString &key, Channel channel)
{
    return (channel == Channel::In ? QStringLiteral("in:") : QStringLiteral("out:")) + key;
}

std::optional<qint64> StreamStore::trimTarget(const QList<StreamHeader> &headers,
                                              const QByteArray &body)
{
    if (headers.isEmpty() || !headers.first().first.isEmpty() || headers.first().second != "trim" ||
        body.size() != 8)
        return std::nullopt;
    const quint64 target = qFromBigEndian<quint64>(body.constData());
    return qint64(qMin<quint64>(target, quint64(std::numeric_limits<qint64>::max())));
}

Result<DurableStream *> StreamStore::stream(const QString &key, Channel channel)
{
    const QString k = streamKey(key, channel);
    auto it = m_streams.constFind(k);
    if (it != m_streams.constEnd()) {
        (*it)->m_lastUsed = QDateTime::currentMSecsSinceEpoch();
        return *it;
    }
    auto *s = new DurableStream(key, channel, this);
    if (auto r = loadState(s); !r) {
        delete s;
        return r.error();
    }
    s->m_lastUsed = QDateTime::currentMSecsSinceEpoch();
    m_streams.insert(k, s);
    return s;
}

Result<void> StreamStore::loadState(DurableStream *s)
{
    auto q = m_db.run(QStringLiteral("SELECT id, trim_seq FROM streams WHERE key=? AND channel=?"),
                      {s->m_key, int(s->m_channel)});
    if (!q)
        return q.error();
    if (!(*q)->next()) {
        (*q)->finish();
        return {};
    }
    s->m_dbId = (*q)->value(0).toLongLong();
    s->m_trimSeq = (*q)->value(1).toLongLong();
    (*q)->finish();
    auto last = m_db.run(
        QStringLiteral("SELECT seq, ts FROM records WHERE stream_id=? ORDER BY seq DESC LIMIT 1"),
        {s->m_dbId});
    if (!last)
        return last.error();
    if ((*last)->next()) {
        s->m_nextSeq = (*last)->value(0).toLongLong() + 1;
        s->m_lastTimestamp = (*last)->value(1).toLongLong();
    }
    (*last)->finish();
    return {};
}

void StreamStore::append(const QString &key, Channel channel, AppendRecord record,
                         AppendCallback done)
{
    auto s = stream(key, channel);
    if (!s) {
        if (done)
            done(s.error());
        return;
    }
    append(*s, std::move(record), std::move(done));
}

void StreamStore::append(DurableStream *stream, AppendRecord record, AppendCallback done)
{
    const qint64 metered = StoredRecord::meteredBytes(record.headers, record.body.size());
    if (metered > MaxRecordBytes) {
        if (done) {
            done(httpError(
                413,
                QStringLiteral("Record metered size %1 bytes exceeds the S2 per-record limit of %2 "
                               "bytes. Reduce tool-output size or split into smaller parts.")
                    .arg(metered)
                    .arg(MaxRecordBytes)));
        }
        return;
    }
    ++stream->m_pending;
    stream->m_lastUsed = QDateTime::currentMSecsSinceEpoch();
    m_queue.append(Pending{stream, std::move(record), std::move(done)});
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
}

void StreamStore::flush()
{
    m_flushTimer.stop();
    if (m_queue.isEmpty())
        return;
    QList<Pending> batch;
    batch.swap(m_queue);

    struct Work
    {
        qint64 dbId;
        qint64 nextSeq;
        qint64 lastTs;
        qint64 trimSeq;
        QList<StoredRecord> added;
    };
    QHash<DurableStream *, Work> work;
    QList<DurableStream *> order; // streams in first-touched order, for signal order
    QList<AppendOutcome> outcomes;
    outcomes.reserve(batch.size());
    const qint64 now = QDateTime::currentMSecsSinceEpoch();

    auto fail = [&](const Error &error) {
        m_db.rollback();
        for (const Pending &p : batch) {
            --p.stream->m_pending;
            if (p.done)
                p.done(error);
        }
    };

    if (auto r = m_db.begin(); !r) {
        fail(r.error());
        return;
    }
    for (const Pending &p : batch) {
        auto wit = work.find(p.stream);
        if (wit == work.end()) {
            wit = work.insert(p.stream, Work{p.stream->m_dbId,
                                             p.stream->m_nextSeq,
                                             p.stream->m_lastTimestamp,
                                             p.stream->m_trimSeq,
                                             {}});
            order << p.stream;
        }
        Work &w = *wit;
        if (w.dbId < 0) {
            auto q = m_db.run(QStringLiteral("INSERT INTO streams(key, channel) VALUES(?, ?)"),
                              {p.stream->m_key, int(p.stream->m_channel)});
            if (!q) {
                fail(q.error());
                return;
            }
            w.dbId = (*q)->lastInsertId().toLongLong();
        }
        if (!p.record.partId.isEmpty()) {
            auto q =
                m_db.run(QStringLiteral("SELECT seq FROM part_ids WHERE stream_id=? AND part_id=?"),
                         {w.dbId, p.record.partId});
            if (!q) {
                fail(q.error());
                return;
            }
            if ((*q)->next()) {
                outcomes << AppendOutcome{(*q)->value(0).toLongLong(), 0, true};
                (*q)->finish();
                continue;
            }
            (*q)->finish();
        }
        const qint64 seq = w.nextSeq++;
        const qint64 ts = qMax(now, w.lastTs);
        w.lastTs = ts;
        const QByteArray headers = headersText(p.record.headers);
        // A null QByteArray would bind as SQL NULL; an empty body is "".
        const QByteArray body = p.record.body.isNull() ? QByteArray("") : p.record.body;
        auto insert = m_db.run(
            QStringLiteral(
                "INSERT INTO records(stream_id, seq, ts, headers, body) VALUES(?,?,?,?,?)"),
            {w.dbId, seq, ts, headers.isEmpty() ? QVariant() : QVariant(QString::fromUtf8(headers)),
             body});
        if (!insert) {
            fail(insert.error());
            return;
        }
        if (!p.record.partId.isEmpty()) {
            auto part = m_db.run(
                QStringLiteral("INSERT INTO part_ids(stream_id, part_id, seq) VALUES(?,?,?)"),
                {w.dbId, p.record.partId, seq});
            if (!part) {
                fail(part.error());
                return;
            }
        }
        if (const auto target = trimTarget(p.record.headers, p.record.body)) {
            // A trim never removes the command itself, so max(seq)+1 stays the tail.
            const qint64 trimTo = qMin(*target, seq);
            if (trimTo > w.trimSeq) {
                w.trimSeq = trimTo;
                auto upd = m_db.run(QStringLiteral("UPDATE streams SET trim_seq=? WHERE id=?"),
                                    {trimTo, w.dbId});
                auto del = upd ? m_db.run(QStringLiteral(
                                              "DELETE FROM records WHERE stream_id=? AND seq<?"),
                                          {w.dbId, trimTo})
                               : upd;
                if (!del) {
                    fail(del.error());
                    return;
                }
            }
        }
        StreamRecord record;
        record.seqNum = seq;
        record.timestamp = ts;
        record.headers = p.record.headers;
        record.kind = StreamRecord::kindFromHeaders(record.headers);
        record.body = p.record.body;
        w.added << StoredRecord::make(std::move(record));
        outcomes << AppendOutcome{seq, ts, false};
    }
    if (auto r = m_db.commit(); !r) {
        fail(r.error());
        return;
    }

    for (const Pending &p : batch)
        --p.stream->m_pending;
    for (DurableStream *s : order) {
        Work &w = work[s];
        s->m_dbId = w.dbId;
        if (w.added.isEmpty())
            continue;
        QList<StreamRecord> records;
        records.reserve(w.added.size());
        const qint64 first = w.added.first().record.seqNum;
        for (StoredRecord &r : w.added) {
            records << r.record;
            s->push(std::move(r));
        }
        s->applyTrim(w.trimSeq);
        announce(s, first);
        Q_EMIT recordsAppended(s->m_key, s->m_channel, records);
    }
    for (qsizetype i = 0; i < batch.size(); ++i) {
        if (batch.at(i).done)
            batch.at(i).done(outcomes.at(i));
    }
}

void StreamStore::announce(DurableStream *stream, qint64 firstSeq)
{
    if (stream->subscriberCount() < FanoutCoalesceSubscribers) {
        Q_EMIT stream->appended(firstSeq, stream->nextSeq() - firstSeq);
        return;
    }
    // Already waiting for its turn: the announced range reaches the tail then.
    if (m_unannounced.contains(stream))
        return;
    const qint64 now = m_clock.elapsed();
    const auto last = m_lastAnnounced.constFind(stream);
    const qint64 due =
        last == m_lastAnnounced.constEnd() ? now : *last + fanoutIntervalMs(stream->subscriberCount());
    if (due <= now) {
        m_lastAnnounced[stream] = now;
        Q_EMIT stream->appended(firstSeq, stream->nextSeq() - firstSeq);
        return;
    }
    m_unannounced.insert(stream, firstSeq);
    const int wait = int(due - now);
    if (!m_announceTimer.isActive() || m_announceTimer.remainingTime() > wait)
        m_announceTimer.start(wait);
}

void StreamStore::announceDue()
{
    const qint64 now = m_clock.elapsed();
    qint64 next = -1;
    for (auto it = m_unannounced.begin(); it != m_unannounced.end();) {
        DurableStream *stream = it.key();
        const qint64 due = m_lastAnnounced.value(stream, now) + fanoutIntervalMs(stream->subscriberCount());
        if (due > now) {
            next = next < 0 ? due : qMin(next, due);
            ++it;
            continue;
        }
        const qint64 first = it.value();
        it = m_unannounced.erase(it);
        m_lastAnnounced[stream] = now;
        Q_EMIT stream->appended(first, stream->nextSeq() - first);
    }
    if (next >= 0)
        m_announceTimer.start(int(next - now));
}

Result<QList<StoredRecord>> StreamStore::read(const QString &key, Channel channel, qint64 fromSeq,
                                              int maxCount)
{
    auto s = stream(key, channel);
    if (!s)
        return s.error();
    return read(*s, fromSeq, maxCount);
}

Result<QList<StoredRecord>> StreamStore::read(DurableStream *stream, qint64 fromSeq, int maxCount)
{
    fromSeq = qMax(fromSeq, stream->m_trimSeq);
    QList<StoredRecord> out;
    if (fromSeq >= stream->m_nextSeq || maxCount <= 0)
        return out;
    if (fromSeq < stream->windowStart()) {
        auto older = readFromDb(stream, fromSeq,
                                int(qMin<qint64>(maxCount, stream->windowStart() - fromSeq)));
        if (!older)
            return older;
        out = *older;
        fromSeq = out.isEmpty() ? stream->windowStart() : out.last().record.seqNum + 1;
    }
    for (qint64 seq = qMax(fromSeq, stream->windowStart());
         seq < stream->m_nextSeq && out.size() < maxCount; ++seq)
        out << *stream->windowRecord(seq);
    return out;
}

Result<QList<StoredRecord>> StreamStore::readFromDb(DurableStream *stream, qint64 fromSeq,
                                                    int maxCount)
{
    QList<StoredRecord> out;
    if (stream->m_dbId < 0)
        return out;
    out.reserve(maxCount);
    auto q = m_db.run(
        QStringLiteral("SELECT seq, ts, headers, body FROM records WHERE stream_id=? AND seq>=? "
                       "ORDER BY seq LIMIT ?"),
        {stream->m_dbId, fromSeq, maxCount});
    if (!q)
        return q.error();
    while ((*q)->next()) {
        StreamRecord r;
        r.seqNum = (*q)->value(0).toLongLong();
        r.timestamp = (*q)->value(1).toLongLong();
        r.headers = headersFrom((*q)->value(2));
        r.kind = StreamRecord::kindFromHeaders(r.headers);
        r.body = (*q)->value(3).toByteArray();
        out << StoredRecord::make(std::move(r));
    }
    (*q)->finish();
    return out;
}

void StreamStore::evictIdle(qint64 idleMs)
{
    const qint64 cutoff = QDateTime::currentMSecsSinceEpoch() - idleMs;
    for (auto it = m_streams.begin(); it != m_streams.end();) {
        DurableStream *s = *it;
        if (s->m_subscribers == 0 && s->m_pending == 0 && s->m_lastUsed <= cutoff) {
            m_lastAnnounced.remove(s);
            m_unannounced.remove(s);
            delete s;
            it = m_streams.erase(it);
        } else {
            ++it;
        }
    }
}

} // namespace sessionscope
