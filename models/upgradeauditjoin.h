#pragma once

#include "models/clientdatadiff.h"
#include "models/runhistoryentry.h"
#include "models/upgradeevidence.h"

#include <QDateTime>
#include <QJsonValue>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

struct ObservedUpgrade;

// A message this client appended to `.in`, with the clientData it carried.
// Include the session's create-time clientData (basePayload.metadata) as a
// send with inSeq -1 so the first upgrade has something to diff against.
struct ClientSend
{
    qint64 inSeq = -1;  // what the append answered
    QDateTime sentAt;   // this client's clock, when the append went out
    QJsonValue clientData;
};

// One upgrade of a session, put together from the run history, the `.out`
// stream and the client's own sends.
struct UpgradeAuditRow
{
    QString key;       // the audit row id, or the new run's id
    QDateTime when;    // when the new run took over
    QString fromRunId;
    QString fromVersion;
    QString toRunId;
    QString toVersion;
    QString reason;
    bool triggerKnown = false; // a send was matched to the upgrade
    qint64 triggerInSeq = -1;  // the `.in` seq of the send that caused it
    ClientDataDiff clientDataChange; // against the send before it
    qint64 upgradeSeq = -1;    // `.out` seq of upgrade-required; -1: none seen (an in-turn upgrade writes none)
    qint64 firstChunkSeq = -1; // the new run's first `.out` chunk
    std::optional<qint64> latencyMs; // triggering send to that chunk

    bool operator==(const UpgradeAuditRow &) const = default;
};

// The join behind UpgradeAuditModel, kept free of Qt models so each rule can
// be tested on its own:
//  - every run with reason "upgrade" is a row; the run before it in time is
//    where it came from;
//  - its upgrade-required record is the one ObservedHistory tied to that
//    run, else the first unclaimed marker stamped no earlier than ClockSlackMs
//    before the takeover and within MatchWindowMs after it;
//  - the triggering send is the `.in` seq the new run's first turn-complete
//    names, else the last send before the marker (or the takeover);
//  - the clientData change is that send's clientData against the send before
//    it; the latency runs from that send to the first chunk after the marker,
//    on this client's clock when the chunk's arrival time is known, else on
//    the server's timestamp.
class UpgradeAuditJoin
{
public:
    static constexpr qint64 ClockSlackMs = 2000;
    static constexpr qint64 MatchWindowMs = 30000;

    void setRuns(const QList<RunHistoryEntry> &runs) { m_runs = runs; }
    void setMarkers(const QList<UpgradeMarker> &markers) { m_markers = markers; }
    void setObservedUpgrades(const QList<ObservedUpgrade> &upgrades);
    void setSends(const QList<ClientSend> &sends) { m_sends = sends; }
    void addSend(const ClientSend &send) { m_sends.append(send); }

    // Newest first.
    QList<UpgradeAuditRow> rows() const;

private:
    struct KnownUpgrade
    {
        QString toRunId;
        qint64 seq = -1;
        qint64 observedAtMs = 0;
    };

    QList<RunHistoryEntry> m_runs;
    QList<UpgradeMarker> m_markers;
    QList<KnownUpgrade> m_observed;
    QList<ClientSend> m_sends;
};

} // namespace sessionscope
