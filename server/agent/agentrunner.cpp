#include "server/agent/agentrunner.h"

#include "server/agent/agentruntime.h"
#include "server/agent/contractcheck.h"
#include "server/sessionservice.h"
#include "server/streamstore.h"
#include "server/tokenservice.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>

namespace sessionscope {

namespace {

const QString kCompleted = QStringLiteral("COMPLETED");
const QString kCanceled = QStringLiteral("CANCELED");
const QString kFailed = QStringLiteral("FAILED");
constexpr int kMaxRecordedErrors = 50;

QString nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
}

// A `.in` data record holds {"data": <ChatInputChunk as JSON text>, "id"}:
// the server stores the appended text as is. A chunk stored as an object, or
// a bare chunk without the wrapper, is read too.
std::optional<QJsonObject> decodeInputChunk(const StreamRecord &record, QString *error)
{
    if (record.kind != RecordKind::Data) {
        *error = QStringLiteral("not a data record");
        return std::nullopt;
    }
    QJsonParseError parseError;
    const QJsonDocument outer = QJsonDocument::fromJson(record.body, &parseError);
    if (!outer.isObject()) {
        *error = QStringLiteral("the body is not a JSON object (%1)").arg(parseError.errorString());
        return std::nullopt;
    }
    QJsonObject chunk = outer.object();
    if (chunk.contains(QLatin1String("data")) && !chunk.contains(QLatin1String("kind"))) {
        const QJsonValue data = chunk.value(QLatin1String("data"));
        if (data.isString()) {
            const QJsonDocument inner = QJsonDocument::fromJson(data.toString().toUtf8(), &parseError);
            if (!inner.isObject()) {
                *error = QStringLiteral("data is not a ChatInputChunk (%1)").arg(parseError.errorString());
                return std::nullopt;
            }
            chunk = inner.object();
        } else if (data.isObject()) {
            chunk = data.toObject();
        } else {
            *error = QStringLiteral("data is neither a string nor an object");
            return std::nullopt;
        }
    }
    if (!chunk.value(QLatin1String("kind")).isString()) {
        *error = QStringLiteral("the chunk has no kind");
        return std::nullopt;
    }
    return chunk;
}

// The client's answer to a tool approval: it resends the assistant message
// with the tool part's approval {id, approved}.
std::optional<ToolApprovalAnswer> approvalAnswerIn(const QJsonObject &message)
{
    if (message.value(QLatin1String("role")).toString() != QLatin1String("assistant"))
        return std::nullopt;
    for (const QJsonValue &p : message.value(QLatin1String("parts")).toArray()) {
        const QJsonObject part = p.toObject();
        const QJsonValue approved = part.value(QLatin1String("approval")).toObject().value(QLatin1String("approved"));
        const QString type = part.value(QLatin1String("type")).toString();
        if (approved.isBool() && type.startsWith(QLatin1String("tool-"))) {
            return ToolApprovalAnswer{message.value(QLatin1String("id")).toString(),
                                      part.value(QLatin1String("toolCallId")).toString(), type.mid(5),
                                      approved.toBool()};
        }
    }
    return std::nullopt;
}

QJsonObject parseObject(const std::optional<QByteArray> &json)
{
    return json ? QJsonDocument::fromJson(*json).object() : QJsonObject();
}

} // namespace

AgentRunner::AgentRunner(AgentRuntime &runtime, SessionRow session, RunRow run, RunReason reason,
                         QString previousRunId, bool recovering, QObject *parent)
    : QObject(parent),
      m_runtime(runtime),
      m_session(std::move(session)),
      m_run(std::move(run)),
      m_reason(reason),
      m_previousRunId(std::move(previousRunId)),
      m_recovering(recovering),
      m_streamKey(AgentRuntime::streamKey(m_session)),
      m_status(m_run.status)
{
    m_chunkTimer.setSingleShot(true);
    connect(&m_chunkTimer, &QTimer::timeout, this, &AgentRunner::writeNextChunk);
    m_idleTimer.setSingleShot(true);
    connect(&m_idleTimer, &QTimer::timeout, this, [this] {
        if (m_state == State::Waiting)
            endRun(kCompleted, QStringLiteral("idle for %1 s with no input").arg(idleTimeoutSeconds()));
    });
}

AgentRunner::~AgentRunner() = default;

// ---- lifecycle ------------------------------------------------------------

void AgentRunner::start()
{
    if (m_state != State::Queued)
        return;
    m_state = State::Booting;
    boot();
}

void AgentRunner::boot()
{
    if (!isCurrentRun()) {
        endRun(kCompleted, QStringLiteral("another run took the session over before this one started"));
        return;
    }
    const auto version = m_runtime.registry().find(m_run.taskIdentifier, m_run.version);
    if (!version) {
        // As on Trigger.dev: the run waits until the version it is locked to is deployed.
        m_state = State::PendingVersion;
        setStatus(QStringLiteral("PENDING_VERSION"));
        return;
    }
    m_version = *version;
    auto transcript = m_runtime.transcripts().load(m_session.friendlyId);
    if (!transcript) {
        fail(transcript.error().message);
        return;
    }
    m_transcript = std::move(transcript.value());
    m_bootPayload = m_run.payloadObject();

    const QJsonObject agent = parseObject(m_run.metadata).value(QLatin1String("agent")).toObject();
    m_pinnedAppVersion = agent.value(QLatin1String("pinnedAppVersion")).toString();
    if (m_pinnedAppVersion.isEmpty() && m_reason == RunReason::Initial)
        m_pinnedAppVersion = ContractCheck::appVersionOf(m_bootPayload.value(QLatin1String("metadata")));
    updateRunMetadata([this](QJsonObject &a) {
        a.insert(QStringLiteral("version"), m_version.label);
        a.insert(QStringLiteral("supportedProtocolVersions"), QJsonArray::fromStringList(m_version.supportedProtocolVersions));
        a.insert(QStringLiteral("reason"), runReasonName(m_reason));
        if (!m_previousRunId.isEmpty())
            a.insert(QStringLiteral("previousRunId"), m_previousRunId);
        if (!m_pinnedAppVersion.isEmpty())
            a.insert(QStringLiteral("pinnedAppVersion"), m_pinnedAppVersion);
        if (m_recovering)
            a.insert(QStringLiteral("recoveredAt"), nowIso());
    });
    m_nextRead = m_transcript.inCommitted + 1;
    setStatus(QStringLiteral("EXECUTING"));
    if (m_transcript.inFlightSeq || m_transcript.inFlightBoot) {
        recoverInFlight();
        return;
    }
    bootTurns();
}

void AgentRunner::versionDeployed(const AgentVersion &version)
{
    // A PENDING_VERSION run waits for the very label it is locked to.
    if (m_state != State::PendingVersion || version.task != m_run.taskIdentifier || version.label != m_run.version)
        return;
    m_state = State::Booting;
    boot();
}

// A turn was streaming when the previous process stopped. Whatever reached
// `.out` is kept; a turn that never got its turn-complete is ended with an
// error chunk (never answered again), so no client waits forever and nothing
// is answered twice.
void AgentRunner::recoverInFlight()
{
    const qint64 from = m_transcript.lastTurnCompleteSeq + 1;
    auto records = m_runtime.streams().read(m_streamKey, Channel::Out, from, 100000);
    if (!records) {
        fail(records.error().message);
        return;
    }
    for (const StoredRecord &stored : records.value()) {
        const StreamRecord &r = stored.record;
        if (r.kind == RecordKind::Data) {
            const QJsonObject chunk = QJsonDocument::fromJson(r.body).object().value(QLatin1String("data")).toObject();
            m_transcript.conversation.applyChunk(chunk);
        } else if (r.kind == RecordKind::Control && r.subtype() == "turn-complete") {
            // The turn did finish; only the snapshot after it was lost.
            m_transcript.lastTurnCompleteSeq = r.seqNum;
            m_transcript.inFlightSeq.reset();
            m_transcript.inFlightBoot = false;
            ++m_transcript.answeredTurns;
            saveTranscript();
            bootTurns();
            return;
        }
    }
    const std::optional<qint64> seq = m_transcript.inFlightSeq;
    recordError(QStringLiteral("the server restarted while this turn was streaming; the turn was ended with an error"),
                seq);
    Turn turn;
    turn.inSeq = seq;
    turn.countsAsTurn = false;
    turn.withToken = false;
    turn.plan << QJsonObject{{QStringLiteral("type"), QStringLiteral("error")},
                             {QStringLiteral("errorText"),
                              QStringLiteral("The server restarted while this answer was streaming; it was cut "
                                             "off and will not be repeated.")}};
    m_turn = std::move(turn);
    m_state = State::Streaming;
    // Straight out, unpaced: this is bookkeeping, not an answer.
    for (const QJsonObject &chunk : std::as_const(m_turn->plan))
        appendChunk(chunk);
    m_turn->next = m_turn->plan.size();
    completeTurn();
}

void AgentRunner::bootTurns()
{
    if (m_transcript.handoffPayload) {
        // The run before handed over a message it did not answer (its boot message).
        const QJsonObject payload = *m_transcript.handoffPayload;
        m_transcript.handoffPayload.reset();
        saveTranscript();
        beginTurn(payload, std::nullopt);
        return;
    }
    const bool bootMessage = m_reason == RunReason::Initial && !m_transcript.bootAnswered
                             && m_bootPayload.value(QLatin1String("trigger")).toString() == QLatin1String("submit-message")
                             && m_bootPayload.value(QLatin1String("message")).isObject();
    if (bootMessage) {
        m_transcript.bootAnswered = true;
        beginTurn(m_bootPayload, std::nullopt);
        return;
    }
    // preload, or a run that follows another: wait for the next `.in` record.
    enterWaiting();
}

void AgentRunner::enterWaiting()
{
    if (m_state == State::Finished)
        return;
    if (m_endAfterTurn) {
        endRun(m_endStatus, m_endNote);
        return;
    }
    m_state = State::Waiting;
    setStatus(QStringLiteral("WAITING"));
    m_idleTimer.start(idleTimeoutSeconds() * 1000);
    pump();
}

void AgentRunner::supersede()
{
    switch (m_state) {
    case State::Queued:
    case State::PendingVersion:
    case State::Booting:
    case State::Waiting:
        endRun(kCompleted, QStringLiteral("another run took the session over"));
        return;
    case State::Streaming:
        m_endAfterTurn = true;
        m_endStatus = kCompleted;
        m_endNote = QStringLiteral("another run took the session over; this one finished its turn first");
        return;
    case State::HandingOver:
    case State::Finished:
        return;
    }
}

void AgentRunner::sessionClosed()
{
    if (m_state != State::HandingOver)
        cutAndEnd(kCompleted, QStringLiteral("the session was closed"));
}

void AgentRunner::cancel()
{
    cutAndEnd(kCanceled, QStringLiteral("canceled"));
}

void AgentRunner::cutAndEnd(const QString &idleStatus, const QString &note)
{
    if (m_state != State::Streaming) {
        endRun(idleStatus, note);
        return;
    }
    // The answer is cut like a stop (it still gets its turn-complete); a
    // run that lost its turn this way was canceled.
    m_endAfterTurn = true;
    m_endStatus = kCanceled;
    m_endNote = note + QStringLiteral(" while a turn was streaming");
    if (!m_turn->completing)
        abortTurn();
}

void AgentRunner::endRun(const QString &status, const QString &note)
{
    if (m_state == State::Finished)
        return;
    m_state = State::Finished;
    m_chunkTimer.stop();
    m_idleTimer.stop();
    updateRunMetadata([&note](QJsonObject &a) {
        a.insert(QStringLiteral("endedBecause"), note);
        a.insert(QStringLiteral("endedAt"), nowIso());
    });
    setStatus(status);
    if (auto r = m_runtime.transcripts().markEnded(m_run.id); !r)
        qWarning("agent: run %s: %s", qPrintable(m_run.id), qPrintable(r.error().message));
    Q_EMIT finished(m_run.id, status);
}

void AgentRunner::fail(const QString &message)
{
    if (m_state == State::Finished)
        return;
    recordError(message);
    endRun(kFailed, message);
}

bool AgentRunner::isCurrentRun()
{
    auto session = m_runtime.sessions().session(m_session.friendlyId);
    if (!session)
        return false;
    m_session = session.value();
    return m_session.currentRunId == m_run.id && !m_session.isClosed();
}

// ---- input ----------------------------------------------------------------

void AgentRunner::inputArrived()
{
    if (m_state == State::Queued || m_state == State::PendingVersion || m_state == State::Finished)
        return;
    if (!fillBuffer())
        return;
    applyStops();
    if (m_state == State::Waiting)
        pump();
}

bool AgentRunner::fillBuffer()
{
    auto records = m_runtime.streams().read(m_streamKey, Channel::In, m_nextRead, 256);
    if (!records) {
        fail(records.error().message);
        return false;
    }
    for (const StoredRecord &stored : records.value()) {
        m_nextRead = stored.record.seqNum + 1;
        if (!m_transcript.isConsumed(stored.record.seqNum))
            m_buffer.push_back(stored.record);
    }
    return true;
}

// chat.agent listens for stops for the whole run: one aborts the streaming
// turn at once, ahead of any message still queued behind it.
void AgentRunner::applyStops()
{
    if (m_state != State::Streaming)
        return;
    for (auto it = m_buffer.begin(); it != m_buffer.end();) {
        QString error;
        const auto chunk = decodeInputChunk(*it, &error);
        if (!chunk || chunk->value(QLatin1String("kind")).toString() != QLatin1String("stop")) {
            ++it;
            continue;
        }
        consume(it->seqNum);
        it = m_buffer.erase(it);
        if (m_turn && !m_turn->completing)
            abortTurn();
    }
}

void AgentRunner::pump()
{
    while (m_state == State::Waiting) {
        if (m_buffer.empty() && (!fillBuffer() || m_buffer.empty()))
            return;
        const StreamRecord record = m_buffer.front();
        m_buffer.pop_front();
        if (m_transcript.isConsumed(record.seqNum))
            continue;
        m_idleTimer.stop();
        process(record);
        if (m_state == State::Waiting && !m_idleTimer.isActive())
            m_idleTimer.start(idleTimeoutSeconds() * 1000);
    }
}

void AgentRunner::process(const StreamRecord &record)
{
    QString error;
    const auto chunk = decodeInputChunk(record, &error);
    if (!chunk) {
        consume(record.seqNum);
        saveTranscript();
        recordError(QStringLiteral("ignored .in record %1: %2").arg(record.seqNum).arg(error), record.seqNum);
        return;
    }
    const QString kind = chunk->value(QLatin1String("kind")).toString();
    if (kind == QLatin1String("message")) {
        handleMessage(chunk->value(QLatin1String("payload")).toObject(), record.seqNum);
        return;
    }
    consume(record.seqNum);
    saveTranscript();
    if (kind != QLatin1String("stop")) // a stop with no turn streaming has nothing to stop
        recordError(QStringLiteral("ignored .in record %1 of unknown kind \"%2\"").arg(record.seqNum).arg(kind),
                    record.seqNum);
}

void AgentRunner::handleMessage(const QJsonObject &payload, std::optional<qint64> seq)
{
    const QString trigger = payload.value(QLatin1String("trigger")).toString();
    if (trigger == QLatin1String("submit-message") || trigger == QLatin1String("regenerate-message")) {
        beginTurn(payload, seq);
        return;
    }
    if (trigger == QLatin1String("action") && seq) {
        beginAction(payload, *seq);
        return;
    }
    if (seq)
        consume(*seq);
    saveTranscript();
    if (trigger == QLatin1String("close")) {
        endRun(kCompleted, QStringLiteral("closed by the client (trigger close)"));
        return;
    }
    if (trigger != QLatin1String("preload")) {
        recordError(QStringLiteral("ignored a message with trigger \"%1\" (not supported by the embedded agent)").arg(trigger),
                    seq);
    }
}

// ---- turns ----------------------------------------------------------------

void AgentRunner::beginTurn(const QJsonObject &payload, std::optional<qint64> seq)
{
    m_idleTimer.stop();
    if (auto session = m_runtime.sessions().session(m_session.friendlyId))
        m_session = session.value();
    Turn turn;
    turn.inSeq = seq;
    const QJsonValue clientData = payload.value(QLatin1String("metadata"));

    // chat.agent's clientDataSchema: a turn that does not match is not answered.
    if (auto valid = m_version.clientDataSchema.validate(clientData); !valid) {
        if (seq)
            consume(*seq);
        recordError(valid.error().message, seq);
        turn.countsAsTurn = false;
        turn.withToken = false;
        streamTurn(std::move(turn));
        return;
    }

    if (m_version.appVersionPolicy == AgentVersion::AppVersionPolicy::PinFirst && m_pinnedAppVersion.isEmpty()) {
        m_pinnedAppVersion = ContractCheck::appVersionOf(clientData);
        if (!m_pinnedAppVersion.isEmpty())
            updateRunMetadata([this](QJsonObject &a) { a.insert(QStringLiteral("pinnedAppVersion"), m_pinnedAppVersion); });
    }

    const ContractCheck::Verdict verdict = ContractCheck::check(m_version, clientData, m_pinnedAppVersion);
    bool contractError = false;
    if (!verdict.supported()) {
        const QString lock = m_session.triggerConfigObject().value(QLatin1String("lockToVersion")).toString();
        const auto target = m_runtime.registry().resolve(m_run.taskIdentifier, lock);
        const bool sameVersion = !target || target->label == m_version.label;
        // A changed appVersion is worth a fresh run even on the same version (it
        // pins the new build); an unsupported protocol on the latest version
        // would hand over to itself forever.
        if (verdict.outcome == ContractCheck::Outcome::UnsupportedProtocol && sameVersion) {
            contractError = true;
        } else if (m_version.upgradeFrom == AgentVersion::UpgradeFrom::TurnStart) {
            handOverAtTurnStart(payload, seq, verdict.detail);
            return;
        } else {
            turn.handoffAfter = true;
            updateRunMetadata([&verdict](QJsonObject &a) {
                a.insert(QStringLiteral("upgradeRequested"),
                         QJsonObject{{QStringLiteral("from"), QStringLiteral("in-run")},
                                     {QStringLiteral("because"), verdict.detail},
                                     {QStringLiteral("at"), nowIso()}});
            });
        }
    }

    if (seq)
        consume(*seq);
    Conversation &conversation = m_transcript.conversation;
    std::optional<ToolApprovalAnswer> approval;
    if (payload.value(QLatin1String("trigger")).toString() == QLatin1String("regenerate-message")) {
        conversation.dropAfterLastUserMessage();
    } else if (payload.value(QLatin1String("message")).isObject()) {
        const QJsonObject message = payload.value(QLatin1String("message")).toObject();
        approval = approvalAnswerIn(message);
        conversation.upsertMessage(message);
    }

    if (contractError) {
        const QString lock = m_session.triggerConfigObject().value(QLatin1String("lockToVersion")).toString();
        const QString message = QStringLiteral("No deployed version of %1 supports protocolVersion %2: the latest%3 "
                                               "(%4) supports %5.")
                                    .arg(m_run.taskIdentifier, verdict.marker,
                                         lock.isEmpty() ? QString() : QStringLiteral(" allowed by lockToVersion"),
                                         m_version.label,
                                         m_version.supportedProtocolVersions.join(QLatin1String(", ")));
        recordError(message, seq);
        turn.countsAsTurn = false;
        turn.plan = m_generator.contractError(
            QJsonObject{{QStringLiteral("message"), message},
                        {QStringLiteral("protocolVersion"), verdict.marker},
                        {QStringLiteral("runningVersion"), m_version.label},
                        {QStringLiteral("supportedProtocolVersions"),
                         QJsonArray::fromStringList(m_version.supportedProtocolVersions)}});
        streamTurn(std::move(turn));
        return;
    }

    ReplyRequest request;
    if (const auto user = conversation.lastUserMessage())
        request.userText = Conversation::textOf(*user);
    request.answeredTurns = m_transcript.answeredTurns;
    request.historySize = int(conversation.size());
    request.approval = approval;
    if (!m_answeredFirstTurn && m_reason != RunReason::Initial && conversation.size() > 1) {
        // The first answer after a takeover shows the history it rebuilt.
        request.history = QJsonObject{{QStringLiteral("reason"), runReasonName(m_reason)},
                                      {QStringLiteral("previousRunId"), m_previousRunId},
                                      {QStringLiteral("runId"), m_run.id},
                                      {QStringLiteral("version"), m_version.label},
                                      {QStringLiteral("rebuiltFrom"), QStringLiteral("transcript")},
                                      {QStringLiteral("messages"), conversation.summary()}};
    }
    turn.plan = m_generator.reply(m_version, request);
    streamTurn(std::move(turn));
}

void AgentRunner::beginAction(const QJsonObject &payload, qint64 seq)
{
    m_idleTimer.stop();
    consume(seq);
    // An action is not a turn: no contract check, no token, no script step.
    Turn turn;
    turn.inSeq = seq;
    turn.countsAsTurn = false;
    turn.withToken = false;
    turn.plan = m_generator.actionReply(payload.value(QLatin1String("action")));
    streamTurn(std::move(turn));
}

void AgentRunner::streamTurn(Turn turn)
{
    m_turn = std::move(turn);
    m_state = State::Streaming;
    setStatus(QStringLiteral("EXECUTING"));
    m_transcript.inFlightSeq = m_turn->inSeq;
    m_transcript.inFlightBoot = !m_turn->inSeq.has_value();
    m_transcript.inFlightRunId = m_run.id;
    if (!saveTranscript())
        return;
    m_answeredFirstTurn = true;
    // Stops that arrived before the turn began still stop it.
    applyStops();
    if (m_state == State::Streaming && !m_turn->completing)
        writeNextChunk();
}

void AgentRunner::writeNextChunk()
{
    if (m_state != State::Streaming || !m_turn || m_turn->completing)
        return;
    const double rate = chunksPerSecond();
    if (rate <= 0) {
        while (m_turn->next < m_turn->plan.size())
            appendChunk(m_turn->plan.at(m_turn->next++));
    } else if (m_turn->next < m_turn->plan.size()) {
        appendChunk(m_turn->plan.at(m_turn->next++));
        if (m_turn->next < m_turn->plan.size()) {
            m_chunkTimer.start(qMax(1, int(1000.0 / rate)));
            return;
        }
    }
    if (m_state == State::Streaming)
        completeTurn();
}

void AgentRunner::abortTurn()
{
    m_chunkTimer.stop();
    m_turn->aborted = true;
    // What the AI SDK writes when a stream is aborted; the text so far stays.
    appendChunk(QJsonObject{{QStringLiteral("type"), QStringLiteral("abort")}});
    completeTurn();
}

void AgentRunner::completeTurn()
{
    if (!m_turn || m_turn->completing || m_state == State::Finished)
        return;
    m_chunkTimer.stop();
    m_turn->completing = true;
    const qint64 previous = m_transcript.lastTurnCompleteSeq;
    appendControl("turn-complete", turnCompleteHeaders(m_turn->withToken), [this](qint64 seq) {
        m_transcript.lastTurnCompleteSeq = seq;
        m_transcript.inFlightSeq.reset();
        m_transcript.inFlightBoot = false;
        m_transcript.inFlightRunId.clear();
        if (m_turn && m_turn->countsAsTurn)
            ++m_transcript.answeredTurns;
        if (saveTranscript())
            afterTurn();
    });
    // `.out` keeps about one turn: trim back to the previous turn-complete.
    if (previous >= 0) {
        QPointer<AgentRunner> self(this);
        m_runtime.streams().append(m_streamKey, Channel::Out, AppendRecord::trim(previous),
                                   [self](const Result<AppendOutcome> &r) {
                                       if (self && !r)
                                           self->recordError(QStringLiteral("trim failed: %1").arg(r.error().message));
                                   });
    }
}

void AgentRunner::afterTurn()
{
    const bool handoff = m_turn && m_turn->handoffAfter;
    m_turn.reset();
    if (m_state == State::Finished)
        return;
    if (m_endAfterTurn) {
        endRun(m_endStatus, m_endNote);
        return;
    }
    if (handoff) {
        handOverAfterTurn();
        return;
    }
    enterWaiting();
}

// ---- upgrades -------------------------------------------------------------

void AgentRunner::handOverAtTurnStart(const QJsonObject &payload, std::optional<qint64> seq, const QString &detail)
{
    m_state = State::HandingOver;
    // The record stays unconsumed: the next run reads the same `.in` seq. A
    // boot message has no seq, so it travels in the transcript.
    if (!seq)
        m_transcript.handoffPayload = payload;
    if (!saveTranscript())
        return;
    auto swap = m_runtime.sessions().endAndContinue(m_session, m_run.id, RunReason::Upgrade);
    const QString note = !swap ? QStringLiteral("upgrade at turn start (%1); end-and-continue failed: %2")
                                     .arg(detail, swap.error().message)
                         : swap->swapped ? QStringLiteral("upgrade at turn start (%1): run %2 took over").arg(detail, swap->runId)
                                         : QStringLiteral("upgrade at turn start (%1): run %2 had already taken over")
                                               .arg(detail, swap->runId);
    updateRunMetadata([&](QJsonObject &a) {
        a.insert(QStringLiteral("upgradeRequested"),
                 QJsonObject{{QStringLiteral("from"), QStringLiteral("turn-start")},
                             {QStringLiteral("because"), detail},
                             {QStringLiteral("inSeq"), seq ? QJsonValue(double(*seq)) : QJsonValue()},
                             {QStringLiteral("successorRunId"), swap ? QJsonValue(swap->runId) : QJsonValue()},
                             {QStringLiteral("at"), nowIso()}});
    });
    // Written even when the swap failed, as the SDK does: the next append
    // then starts a continuation run.
    appendControl("upgrade-required", {}, [this, note](qint64) { endRun(kCompleted, note); });
}

void AgentRunner::handOverAfterTurn()
{
    m_state = State::HandingOver;
    auto swap = m_runtime.sessions().endAndContinue(m_session, m_run.id, RunReason::Upgrade);
    if (!swap) {
        recordError(QStringLiteral("in-run upgrade: end-and-continue failed: %1").arg(swap.error().message));
        endRun(kCompleted, QStringLiteral("in-run upgrade requested; end-and-continue failed"));
        return;
    }
    endRun(kCompleted, QStringLiteral("upgrade requested inside the turn: run %1 %2")
                           .arg(swap->runId, swap->swapped ? QStringLiteral("took over")
                                                           : QStringLiteral("had already taken over")));
}

// ---- writing --------------------------------------------------------------

void AgentRunner::appendChunk(const QJsonObject &chunk)
{
    m_transcript.conversation.applyChunk(chunk);
    QPointer<AgentRunner> self(this);
    m_runtime.streams().append(m_streamKey, Channel::Out,
                               AppendRecord::data(chunk, m_generator.nextPartId().toUtf8()),
                               [self](const Result<AppendOutcome> &r) {
                                   if (self && !r)
                                       self->fail(QStringLiteral("writing to .out failed: %1").arg(r.error().message));
                               });
}

void AgentRunner::appendControl(const QByteArray &subtype, const QList<StreamHeader> &headers,
                                std::function<void(qint64)> committed)
{
    QPointer<AgentRunner> self(this);
    m_runtime.streams().append(m_streamKey, Channel::Out, AppendRecord::control(subtype, headers),
                               [self, subtype, committed = std::move(committed)](const Result<AppendOutcome> &r) {
                                   if (!self)
                                       return;
                                   if (!r) {
                                       self->fail(QStringLiteral("writing %1 to .out failed: %2")
                                                      .arg(QString::fromLatin1(subtype), r.error().message));
                                       return;
                                   }
                                   committed(r->seq);
                               });
}

QList<StreamHeader> AgentRunner::turnCompleteHeaders(bool withToken) const
{
    QList<StreamHeader> headers;
    if (withToken && m_runtime.tokens()) {
        // The token chat.agent mints per turn: the session plus this run.
        headers.append({QByteArrayLiteral("public-access-token"),
                        m_runtime.tokens()->mintSessionToken(m_session.addressingKey(),
                                                             {QStringLiteral("read:runs:") + m_run.id,
                                                              QStringLiteral("write:inputStreams:") + m_run.id})});
    }
    if (m_transcript.inCommitted >= 0)
        headers.append({QByteArrayLiteral("session-in-event-id"), QByteArray::number(m_transcript.inCommitted)});
    if (m_transcript.maxConsumed() >= 0)
        headers.append({QByteArrayLiteral("session-in-consumed-id"), QByteArray::number(m_transcript.maxConsumed())});
    return headers;
}

double AgentRunner::chunksPerSecond() const
{
    return m_runtime.chunkRateOverride() >= 0 ? m_runtime.chunkRateOverride() : m_version.reply.chunksPerSecond;
}

int AgentRunner::idleTimeoutSeconds() const
{
    // triggerConfig.idleTimeoutInSeconds (1..3600) overrides the version's.
    const int configured = m_session.triggerConfigObject().value(QLatin1String("idleTimeoutInSeconds")).toInt(0);
    return configured >= 1 && configured <= 3600 ? configured : m_version.idleTimeoutInSeconds;
}

bool AgentRunner::saveTranscript()
{
    if (auto r = m_runtime.transcripts().save(m_session.friendlyId, m_transcript); !r) {
        fail(QStringLiteral("saving the transcript failed: %1").arg(r.error().message));
        return false;
    }
    return true;
}

void AgentRunner::consume(qint64 seq)
{
    m_transcript.consume(seq);
}

void AgentRunner::recordError(const QString &message, std::optional<qint64> inSeq)
{
    updateRunMetadata([&](QJsonObject &a) {
        QJsonArray errors = a.value(QLatin1String("errors")).toArray();
        QJsonObject entry{{QStringLiteral("at"), nowIso()}, {QStringLiteral("message"), message}};
        if (inSeq)
            entry.insert(QStringLiteral("inSeq"), double(*inSeq));
        errors.append(entry);
        while (errors.size() > kMaxRecordedErrors)
            errors.removeFirst();
        a.insert(QStringLiteral("errors"), errors);
        a.insert(QStringLiteral("lastError"), message);
    });
}

void AgentRunner::updateRunMetadata(const std::function<void(QJsonObject &agent)> &edit)
{
    auto run = m_runtime.sessions().run(m_run.id);
    if (!run) {
        qWarning("agent: run %s: %s", qPrintable(m_run.id), qPrintable(run.error().message));
        return;
    }
    RunRow row = run.value();
    QJsonObject metadata = parseObject(row.metadata);
    QJsonObject agent = metadata.value(QLatin1String("agent")).toObject();
    edit(agent);
    metadata.insert(QStringLiteral("agent"), agent);
    row.metadata = QJsonDocument(metadata).toJson(QJsonDocument::Compact);
    auto updated = m_runtime.sessions().updateRun(row);
    if (!updated) {
        qWarning("agent: run %s: %s", qPrintable(m_run.id), qPrintable(updated.error().message));
        return;
    }
    m_run = updated.value();
}

void AgentRunner::setStatus(const QString &status)
{
    if (status == m_status)
        return;
    auto updated = m_runtime.sessions().setRunStatus(m_run.id, status);
    if (!updated) {
        qWarning("agent: run %s: cannot set status %s: %s", qPrintable(m_run.id), qPrintable(status),
                 qPrintable(updated.error().message));
        return;
    }
    m_status = status;
    m_run = updated.value();
}

} // namespace sessionscope
