#pragma once

#include "net/streamrecord.h"

#include <QByteArrayView>
#include <QList>

#include <optional>

namespace sessionscope {

struct RecordBatch;

// One upgrade-required record on `.out` and what followed it: the first
// chunk of the run that took over, and the `.in` record that run answered.
struct UpgradeMarker
{
    qint64 seq = -1;          // the upgrade-required record
    qint64 timestamp = 0;     // its server timestamp, ms
    qint64 receivedAtMs = 0;  // when this client saw it (its own clock); 0: unknown
    qint64 firstChunkSeq = -1; // the first data record after it: the new run's first chunk
    qint64 firstChunkTimestamp = 0;
    qint64 firstChunkReceivedAtMs = 0;
    // session-in-event-id of the first turn-complete after it: the `.in` seq
    // the new run consumed, i.e. the send that caused the upgrade.
    std::optional<qint64> consumedInSeq;

    bool operator==(const UpgradeMarker &) const = default;
};

// Watches `.out` for upgrade-required records and what followed them. Reads
// only kinds and headers, never bodies, so it is cheap on any thread.
class UpgradeEvidence
{
public:
    // `.out` records in arrival order; receivedAtMs is this client's clock.
    void observe(const QList<StreamRecord> &records, qint64 receivedAtMs);
    // The `.out` records of a decoded batch; `.in` ones are skipped.
    void observe(const RecordBatch &batch, qint64 receivedAtMs);

    const QList<UpgradeMarker> &markers() const { return m_markers; }
    qint64 lastSeq() const { return m_lastSeq; }
    void clear();

private:
    void observeOne(qint64 seq, qint64 timestamp, RecordKind kind, QByteArrayView subtype,
                    const std::optional<QByteArray> &sessionInEventId, qint64 receivedAtMs);

    QList<UpgradeMarker> m_markers;
    qint64 m_lastSeq = -1;
};

} // namespace sessionscope
