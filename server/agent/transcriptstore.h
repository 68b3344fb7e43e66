#pragma once

#include "net/result.h"
#include "server/agent/conversation.h"

#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace sessionscope {

class Database;

// The agent's durable memory of one session, the embedded counterpart of
// chat.agent's snapshot: `.out` is trimmed to about one turn, so history
// lives here. Written at the start and the end of every turn.
struct AgentTranscript
{
    Conversation conversation;
    int answeredTurns = 0;        // turns answered, for scripted replies
    qint64 inCommitted = -1;      // every `.in` seq <= this is consumed (session-in-event-id)
    QList<qint64> consumedAhead;  // consumed seqs above inCommitted (a stop while a message waits)
    qint64 lastTurnCompleteSeq = -1; // `.out` seq of the newest turn-complete: the next trim target
    std::optional<qint64> inFlightSeq; // the `.in` record a turn is answering right now
    QString inFlightRunId;
    bool inFlightBoot = false;    // the turn answers the boot payload's message (no `.in` seq)
    bool bootAnswered = false;    // the first run's boot message was taken (never answered twice)
    // A payload the previous run handed over unanswered (a boot message that
    // needed an upgrade): the next run answers it first.
    std::optional<QJsonObject> handoffPayload;

    void consume(qint64 seq);
    bool isConsumed(qint64 seq) const { return seq <= inCommitted || consumedAhead.contains(seq); }
    // The highest seq consumed, gaps or not (session-in-consumed-id).
    qint64 maxConsumed() const;

    QJsonObject toJson() const;
    static Result<AgentTranscript> fromJson(const QJsonObject &object);
};

// A run the runtime was executing, so a restarted server picks it up again.
struct LiveAgentRun
{
    QString runId;
    QString sessionId; // friendly id
};

// SQL for the agent runtime's own tables in the server's database:
// agent_transcripts (one snapshot per session) and agent_live_runs.
class TranscriptStore
{
public:
    explicit TranscriptStore(Database &db);

    // Creates the tables when missing.
    Result<void> prepare();

    // An empty transcript when the session has none yet.
    Result<AgentTranscript> load(const QString &sessionId);
    Result<void> save(const QString &sessionId, const AgentTranscript &transcript);

    Result<void> markLive(const QString &runId, const QString &sessionId);
    Result<void> markEnded(const QString &runId);
    Result<QList<LiveAgentRun>> liveRuns();

private:
    Database &m_db;
};

} // namespace sessionscope
