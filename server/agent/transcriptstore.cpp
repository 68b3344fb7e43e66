#include "server/agent/transcriptstore.h"

#include "net/saturate.h"
#include "server/database.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>

namespace sessionscope {

void AgentTranscript::consume(qint64 seq)
{
    if (isConsumed(seq))
        return;
    consumedAhead.append(seq);
    std::sort(consumedAhead.begin(), consumedAhead.end());
    // Advance the committed cursor over every seq that is now contiguous.
    while (!consumedAhead.isEmpty() && consumedAhead.first() == inCommitted + 1) {
        ++inCommitted;
        consumedAhead.removeFirst();
    }
}

qint64 AgentTranscript::maxConsumed() const
{
    return consumedAhead.isEmpty() ? inCommitted : consumedAhead.last();
}

QJsonObject AgentTranscript::toJson() const
{
    QJsonArray ahead;
    for (qint64 s : consumedAhead)
        ahead.append(double(s));
    QJsonObject o{{QStringLiteral("messages"), conversation.toJson()},
                  {QStringLiteral("answeredTurns"), answeredTurns},
                  {QStringLiteral("inCommitted"), double(inCommitted)},
                  {QStringLiteral("consumedAhead"), ahead},
                  {QStringLiteral("lastTurnCompleteSeq"), double(lastTurnCompleteSeq)},
                  {QStringLiteral("bootAnswered"), bootAnswered}};
    if (inFlightSeq || inFlightBoot) {
        o.insert(QStringLiteral("inFlight"), QJsonObject{{QStringLiteral("seq"), inFlightSeq ? double(*inFlightSeq) : -1.0},
                                                         {QStringLiteral("runId"), inFlightRunId},
                                                         {QStringLiteral("boot"), inFlightBoot}});
    }
    if (handoffPayload)
        o.insert(QStringLiteral("handoffPayload"), *handoffPayload);
    return o;
}

Result<AgentTranscript> AgentTranscript::fromJson(const QJsonObject &o)
{
    AgentTranscript t;
    auto conversation = Conversation::fromJson(o.value(QLatin1String("messages")));
    if (!conversation)
        return conversation.error();
    t.conversation = std::move(conversation.value());
    t.answeredTurns = o.value(QLatin1String("answeredTurns")).toInt();
    t.inCommitted = saturatedInt64(o.value(QLatin1String("inCommitted")).toDouble(-1));
    for (const QJsonValue &v : o.value(QLatin1String("consumedAhead")).toArray())
        t.consumedAhead.append(saturatedInt64(v.toDouble()));
    t.lastTurnCompleteSeq = saturatedInt64(o.value(QLatin1String("lastTurnCompleteSeq")).toDouble(-1));
    t.bootAnswered = o.value(QLatin1String("bootAnswered")).toBool();
    const QJsonObject inFlight = o.value(QLatin1String("inFlight")).toObject();
    if (!inFlight.isEmpty()) {
        const qint64 seq = saturatedInt64(inFlight.value(QLatin1String("seq")).toDouble(-1));
        if (seq >= 0)
            t.inFlightSeq = seq;
        t.inFlightRunId = inFlight.value(QLatin1String("runId")).toString();
        t.inFlightBoot = inFlight.value(QLatin1String("boot")).toBool();
    }
    if (o.value(QLatin1String("handoffPayload")).isObject())
        t.handoffPayload = o.value(QLatin1String("handoffPayload")).toObject();
    return t;
}

TranscriptStore::TranscriptStore(Database &db) : m_db(db) {}

Result<void> TranscriptStore::prepare()
{
    if (auto r = m_db.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS agent_transcripts ("
                                          " session_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL)"));
        !r) {
        return r;
    }
    return m_db.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS agent_live_runs ("
                                    " run_id TEXT PRIMARY KEY, session_id TEXT NOT NULL)"));
}

Result<AgentTranscript> TranscriptStore::load(const QString &sessionId)
{
    auto q = m_db.run(QStringLiteral("SELECT body FROM agent_transcripts WHERE session_id=?"), {sessionId});
    if (!q)
        return q.error();
    if (!(*q)->next()) {
        (*q)->finish();
        return AgentTranscript();
    }
    const QByteArray body = (*q)->value(0).toByteArray();
    (*q)->finish();
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (!doc.isObject())
        return Error::make(QStringLiteral("the transcript of %1 is unreadable: %2").arg(sessionId, error.errorString()));
    return AgentTranscript::fromJson(doc.object());
}

Result<void> TranscriptStore::save(const QString &sessionId, const AgentTranscript &transcript)
{
    const QByteArray body = QJsonDocument(transcript.toJson()).toJson(QJsonDocument::Compact);
    auto q = m_db.run(QStringLiteral("INSERT INTO agent_transcripts(session_id, body, updated_at) VALUES(?,?,?) "
                                     "ON CONFLICT(session_id) DO UPDATE SET body=excluded.body, "
                                     "updated_at=excluded.updated_at"),
                      {sessionId, QString::fromUtf8(body), QDateTime::currentMSecsSinceEpoch()});
    if (!q)
        return q.error();
    return {};
}

Result<void> TranscriptStore::markLive(const QString &runId, const QString &sessionId)
{
    auto q = m_db.run(QStringLiteral("INSERT OR REPLACE INTO agent_live_runs(run_id, session_id) VALUES(?,?)"),
                      {runId, sessionId});
    if (!q)
        return q.error();
    return {};
}

Result<void> TranscriptStore::markEnded(const QString &runId)
{
    auto q = m_db.run(QStringLiteral("DELETE FROM agent_live_runs WHERE run_id=?"), {runId});
    if (!q)
        return q.error();
    return {};
}

Result<QList<LiveAgentRun>> TranscriptStore::liveRuns()
{
    auto q = m_db.run(QStringLiteral("SELECT run_id, session_id FROM agent_live_runs ORDER BY rowid"), {});
    if (!q)
        return q.error();
    QList<LiveAgentRun> out;
    while ((*q)->next())
        out << LiveAgentRun{(*q)->value(0).toString(), (*q)->value(1).toString()};
    (*q)->finish();
    return out;
}

} // namespace sessionscope
