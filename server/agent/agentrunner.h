#pragma once

#include "net/result.h"
#include "net/streamrecord.h"
#include "server/agent/agentversion.h"
#include "server/agent/replygenerator.h"
#include "server/agent/transcriptstore.h"
#include "server/runlauncher.h"
#include "server/sessionstore.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QTimer>

#include <deque>
#include <functional>
#include <optional>

namespace sessionscope {

class AgentRuntime;

// One live run of an agent version: chat.agent's turn loop. It consumes the
// session's `.in` records in seq order (a `stop` acts at once, even while a
// turn streams), answers turns with the version's reply at its chunk rate,
// closes each with a turn-complete control record (refreshed token,
// session-in-event-id) and a trim back to the previous one, and hands the
// session over to the latest version when the client's contract marker is
// not supported. Everything runs on timers and store callbacks.
class AgentRunner : public QObject
{
    Q_OBJECT

public:
    enum class State : quint8 {
        Queued,         // another run still owns the session
        PendingVersion, // locked to a label not deployed yet (status PENDING_VERSION)
        Booting,
        Waiting,        // between turns (status WAITING)
        Streaming,      // a turn is being written (status EXECUTING)
        HandingOver,    // end-and-continue is under way
        Finished,
    };

    AgentRunner(AgentRuntime &runtime, SessionRow session, RunRow run, RunReason reason, QString previousRunId,
                bool recovering, QObject *parent = nullptr);
    ~AgentRunner() override;

    const QString &runId() const { return m_run.id; }
    const QString &sessionId() const { return m_session.friendlyId; }
    const QString &streamKey() const { return m_streamKey; }
    State state() const { return m_state; }
    const AgentVersion &version() const { return m_version; }

    // Boots the run (the runtime calls it once the session is this run's).
    void start();
    // `.in` has new records.
    void inputArrived();
    // Another run took the session over: finish a streaming turn, then end.
    void supersede();
    // The session was closed: a streaming turn is cut; the run ends.
    void sessionClosed();
    // Ends the run as CANCELED (a streaming turn is cut first).
    void cancel();
    // A version was deployed: a PENDING_VERSION run locked to it starts.
    void versionDeployed(const AgentVersion &version);

Q_SIGNALS:
    void finished(const QString &runId, const QString &status);

private:
    struct Turn
    {
        std::optional<qint64> inSeq; // the `.in` record it answers (none for a boot message)
        QList<QJsonObject> plan;
        qsizetype next = 0;
        bool countsAsTurn = true; // actions and failed turns do not advance the script
        bool withToken = true;    // the error paths write a turn-complete without one
        bool handoffAfter = false; // upgradeFrom in-run: hand over once the turn is done
        bool aborted = false;
        bool completing = false; // its turn-complete is on the way
    };

    void boot();
    void recoverInFlight();
    void bootTurns();
    void enterWaiting();
    void pump();
    bool fillBuffer();
    void process(const StreamRecord &record);
    void handleMessage(const QJsonObject &payload, std::optional<qint64> seq);
    void beginTurn(const QJsonObject &payload, std::optional<qint64> seq);
    void beginAction(const QJsonObject &payload, qint64 seq);
    void streamTurn(Turn turn);
    void writeNextChunk();
    void abortTurn();
    void completeTurn();
    void afterTurn();
    void handOverAtTurnStart(const QJsonObject &payload, std::optional<qint64> seq, const QString &detail);
    void handOverAfterTurn();
    void applyStops();

    // Appends one UIMessageChunk to `.out` and to the conversation.
    void appendChunk(const QJsonObject &chunk);
    void appendControl(const QByteArray &subtype, const QList<StreamHeader> &headers,
                       std::function<void(qint64 seq)> committed);
    QList<StreamHeader> turnCompleteHeaders(bool withToken) const;
    double chunksPerSecond() const;
    int idleTimeoutSeconds() const;
    bool saveTranscript();
    void consume(qint64 seq);
    void recordError(const QString &message, std::optional<qint64> inSeq = std::nullopt);
    void updateRunMetadata(const std::function<void(QJsonObject &agent)> &edit);
    void setStatus(const QString &status);
    void endRun(const QString &status, const QString &note);
    // Ends the run now with `idleStatus`, or after cutting a streaming turn (CANCELED).
    void cutAndEnd(const QString &idleStatus, const QString &note);
    void fail(const QString &message);
    bool isCurrentRun();

    AgentRuntime &m_runtime;
    SessionRow m_session;
    RunRow m_run;
    RunReason m_reason;
    QString m_previousRunId;
    bool m_recovering;
    QString m_streamKey;

    State m_state = State::Queued;
    QString m_status; // the run status last written
    AgentVersion m_version;
    AgentTranscript m_transcript;
    ReplyGenerator m_generator;
    QJsonObject m_bootPayload;
    QString m_pinnedAppVersion;
    bool m_answeredFirstTurn = false;
    bool m_endAfterTurn = false;
    QString m_endStatus;
    QString m_endNote;

    qint64 m_nextRead = 0;
    std::deque<StreamRecord> m_buffer; // read from `.in`, not yet processed
    std::optional<Turn> m_turn;
    QTimer m_chunkTimer;
    QTimer m_idleTimer;
};

} // namespace sessionscope
