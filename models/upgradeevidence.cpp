#include "models/upgradeevidence.h"

#include "models/recordbatchdecoder.h"

namespace sessionscope {

void UpgradeEvidence::observe(const QList<StreamRecord> &records, qint64 receivedAtMs)
{
    for (const StreamRecord &r : records)
        observeOne(r.seqNum, r.timestamp, r.kind, r.subtype(), sessionInEventId(r), receivedAtMs);
}

void UpgradeEvidence::observe(const RecordBatch &batch, qint64 receivedAtMs)
{
    for (const CompactRecord &r : batch.records) {
        if (r.channel() != Channel::Out)
            continue;
        std::optional<QByteArray> inSeq;
        if (r.kind == RecordKind::Control)
            inSeq = compactheaders::find(batch.headers(r), controlheader::SessionInEventId);
        observeOne(r.seq, r.timestamp, r.kind, batch.types.value(r.typeIndex), inSeq, receivedAtMs);
    }
}

void UpgradeEvidence::observeOne(qint64 seq, qint64 timestamp, RecordKind kind, QByteArrayView subtype,
                                 const std::optional<QByteArray> &sessionInEventId, qint64 receivedAtMs)
{
    if (seq <= m_lastSeq)
        return; // replayed after a resume
    m_lastSeq = seq;
    if (kind == RecordKind::Control && subtype == controlheader::UpgradeRequired) {
        UpgradeMarker marker;
        marker.seq = seq;
        marker.timestamp = timestamp;
        marker.receivedAtMs = receivedAtMs;
        m_markers.append(marker);
        return;
    }
    if (m_markers.isEmpty())
        return;
    UpgradeMarker &open = m_markers.last();
    if (kind == RecordKind::Data && open.firstChunkSeq < 0) {
        open.firstChunkSeq = seq;
        open.firstChunkTimestamp = timestamp;
        open.firstChunkReceivedAtMs = receivedAtMs;
    } else if (kind == RecordKind::Control && subtype == controlheader::TurnComplete && !open.consumedInSeq
               && sessionInEventId) {
        bool ok = false;
        const qint64 inSeq = sessionInEventId->toLongLong(&ok);
        if (ok)
            open.consumedInSeq = inSeq;
    }
}

void UpgradeEvidence::clear()
{
    m_markers.clear();
    m_lastSeq = -1;
}

} // namespace sessionscope
