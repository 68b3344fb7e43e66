#include "models/upgradeauditjoin.h"

#include "net/observedhistory.h"

#include <algorithm>

namespace sessionscope {

void UpgradeAuditJoin::setObservedUpgrades(const QList<ObservedUpgrade> &upgrades)
{
    m_observed.clear();
    for (const ObservedUpgrade &u : upgrades) {
        if (!u.toRunId.isEmpty())
            m_observed.append({u.toRunId, u.seq, u.observedAt.isValid() ? u.observedAt.toMSecsSinceEpoch() : 0});
    }
}

QList<UpgradeAuditRow> UpgradeAuditJoin::rows() const
{
    QList<RunHistoryEntry> runs = m_runs;
    std::stable_sort(runs.begin(), runs.end(),
                     [](const RunHistoryEntry &a, const RunHistoryEntry &b) { return a.triggeredAt < b.triggeredAt; });
    QList<UpgradeMarker> markers = m_markers;
    std::sort(markers.begin(), markers.end(), [](const UpgradeMarker &a, const UpgradeMarker &b) { return a.seq < b.seq; });
    QList<bool> claimed(markers.size(), false);
    QList<ClientSend> sends = m_sends;
    std::stable_sort(sends.begin(), sends.end(), [](const ClientSend &a, const ClientSend &b) {
        return a.inSeq != b.inSeq ? a.inSeq < b.inSeq : a.sentAt < b.sentAt;
    });

    const auto markerWithSeq = [&](qint64 seq) -> qsizetype {
        for (qsizetype i = 0; i < markers.size(); ++i) {
            if (markers[i].seq == seq)
                return i;
        }
        return -1;
    };

    QList<UpgradeAuditRow> out;
    for (qsizetype i = 0; i < runs.size(); ++i) {
        const RunHistoryEntry &run = runs[i];
        if (run.reason != u"upgrade")
            continue;
        UpgradeAuditRow row;
        row.key = run.auditId.isEmpty() ? run.runId : run.auditId;
        row.when = run.triggeredAt;
        row.toRunId = run.runId;
        row.toVersion = run.version;
        row.reason = run.reason;
        if (i > 0) {
            row.fromRunId = runs[i - 1].runId;
            row.fromVersion = runs[i - 1].version;
        }

        // The upgrade-required record.
        std::optional<UpgradeMarker> marker;
        for (const KnownUpgrade &known : m_observed) {
            if (known.toRunId != run.runId)
                continue;
            const qsizetype at = markerWithSeq(known.seq);
            if (at >= 0) {
                claimed[at] = true;
                marker = markers[at];
            } else {
                marker = UpgradeMarker{};
                marker->seq = known.seq;
                marker->timestamp = known.observedAtMs;
            }
            break;
        }
        if (!marker && run.triggeredAt.isValid()) {
            const qint64 when = run.triggeredAt.toMSecsSinceEpoch();
            for (qsizetype m = 0; m < markers.size(); ++m) {
                const qint64 t = markers[m].timestamp;
                if (!claimed[m] && t >= when - ClockSlackMs && t <= when + MatchWindowMs) {
                    claimed[m] = true;
                    marker = markers[m];
                    break;
                }
            }
        }
        if (marker) {
            row.upgradeSeq = marker->seq;
            row.firstChunkSeq = marker->firstChunkSeq;
        }

        // The send that caused it.
        qsizetype trigger = -1;
        if (marker && marker->consumedInSeq) {
            for (qsizetype s = 0; s < sends.size(); ++s) {
                if (sends[s].inSeq == *marker->consumedInSeq)
                    trigger = s;
            }
        }
        if (trigger < 0) {
            const qint64 reference = marker ? (marker->receivedAtMs > 0 ? marker->receivedAtMs : marker->timestamp)
                                            : (run.triggeredAt.isValid() ? run.triggeredAt.toMSecsSinceEpoch() : 0);
            for (qsizetype s = 0; s < sends.size(); ++s) {
                if (sends[s].inSeq >= 0 && sends[s].sentAt.isValid()
                    && sends[s].sentAt.toMSecsSinceEpoch() <= reference + ClockSlackMs)
                    trigger = s; // sends are in seq order: the last one wins
            }
        }
        if (trigger >= 0) {
            const ClientSend &send = sends[trigger];
            row.triggerKnown = true;
            row.triggerInSeq = send.inSeq;
            row.clientDataChange = ClientDataDiff::between(trigger > 0 ? sends[trigger - 1].clientData : QJsonValue(),
                                                           send.clientData);
            if (marker && marker->firstChunkSeq >= 0 && send.sentAt.isValid()) {
                const qint64 chunkAt = marker->firstChunkReceivedAtMs > 0 ? marker->firstChunkReceivedAtMs
                                                                          : marker->firstChunkTimestamp;
                row.latencyMs = chunkAt - send.sentAt.toMSecsSinceEpoch();
            }
        }
        out.append(row);
    }
    std::reverse(out.begin(), out.end());
    return out;
}

} // namespace sessionscope
