#include "net/inappender.h"

#include "net/saturate.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>
#include <QUuid>

#include <algorithm>

namespace sessionscope {

Q_LOGGING_CATEGORY(lcAppend, "sessionscope.net.append", QtInfoMsg)

namespace {

// Without turn-completes (no agent running) the list would grow with every
// send; the oldest entries are the least likely to be answered.
constexpr qsizetype MaxAwaiting = 1000;
// An append answer is late by a few turns at most.
constexpr qsizetype MaxSeenTurnCompletes = 64;

QString newId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

bool isRetryable(const Error &e)
{
    if (e.httpStatus == 0)
        return e.retrySafe;
    return e.httpStatus >= 500 || e.httpStatus == 429 || e.httpStatus == 408;
}

} // namespace

struct InAppender::Send
{
    QString partId;
    QByteArray body;
    bool awaitsTurn = false;
    int attempts = 0;
    Backoff backoff;
    QElapsedTimer elapsed;
    QPointer<QObject> context;
    bool hasContext = false;
    ResultCallback<InAppendResult> done;
    Error lastError;
};

InAppender::InAppender(const ConnectionProfile &profile, const QString &session, QObject *parent)
    : QObject(parent), m_profile(profile), m_session(session), m_chatId(session), m_transport(new RestTransport(this))
{
    m_transport->setBearer(profile.secretKey);
}

InAppender::~InAppender() = default;

void InAppender::setRetryLimits(int maxAttempts, std::chrono::milliseconds deadline)
{
    m_maxAttempts = qMax(1, maxAttempts);
    m_deadline = deadline;
}

QJsonObject InAppender::payload(const QString &trigger, const QJsonValue &clientData) const
{
    QJsonObject p{{QStringLiteral("chatId"), m_chatId}, {QStringLiteral("trigger"), trigger}};
    if (!clientData.isUndefined() && !clientData.isNull())
        p.insert(QStringLiteral("metadata"), clientData);
    return p;
}

QJsonObject InAppender::messageChunk(const QString &text, const QJsonValue &clientData, const QString &messageId) const
{
    const QString id = messageId.isEmpty() ? newId() : messageId;
    const QJsonObject message{
        {QStringLiteral("id"), id},
        {QStringLiteral("role"), QStringLiteral("user")},
        {QStringLiteral("parts"),
         QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}}}};
    QJsonObject p = payload(QStringLiteral("submit-message"), clientData);
    p.insert(QStringLiteral("message"), message);
    p.insert(QStringLiteral("messageId"), id);
    return QJsonObject{{QStringLiteral("kind"), QStringLiteral("message")}, {QStringLiteral("payload"), p}};
}

QJsonObject InAppender::actionChunk(const QJsonValue &action, const QJsonValue &clientData) const
{
    QJsonObject p = payload(QStringLiteral("action"), clientData);
    p.insert(QStringLiteral("action"), action);
    return QJsonObject{{QStringLiteral("kind"), QStringLiteral("message")}, {QStringLiteral("payload"), p}};
}

QJsonObject InAppender::regenerateChunk(const QString &messageId, const QJsonValue &clientData) const
{
    QJsonObject p = payload(QStringLiteral("regenerate-message"), clientData);
    if (!messageId.isEmpty())
        p.insert(QStringLiteral("messageId"), messageId);
    return QJsonObject{{QStringLiteral("kind"), QStringLiteral("message")}, {QStringLiteral("payload"), p}};
}

QJsonObject InAppender::stopChunk(const QString &message)
{
    QJsonObject o{{QStringLiteral("kind"), QStringLiteral("stop")}};
    if (!message.isEmpty())
        o.insert(QStringLiteral("message"), message);
    return o;
}

QString InAppender::sendMessage(const QString &text, const QJsonValue &clientData, QObject *context,
                                ResultCallback<InAppendResult> done)
{
    return sendChunk(messageChunk(text, clientData), context, std::move(done));
}

QString InAppender::sendStop(const QString &message, QObject *context, ResultCallback<InAppendResult> done)
{
    return sendChunk(stopChunk(message), context, std::move(done));
}

QString InAppender::sendAction(const QJsonValue &action, const QJsonValue &clientData, QObject *context,
                               ResultCallback<InAppendResult> done)
{
    return sendChunk(actionChunk(action, clientData), context, std::move(done));
}

QString InAppender::sendRegenerate(const QString &messageId, const QJsonValue &clientData, QObject *context,
                                   ResultCallback<InAppendResult> done)
{
    return sendChunk(regenerateChunk(messageId, clientData), context, std::move(done));
}

QString InAppender::sendChunk(const QJsonObject &chunk, QObject *context, ResultCallback<InAppendResult> done,
                              const QString &partId)
{
    auto send = std::make_shared<Send>();
    send->partId = partId.isEmpty() ? newId() : partId;
    send->body = QJsonDocument(chunk).toJson(QJsonDocument::Compact);
    // Messages, actions and regenerations start a turn; a stop ends one.
    send->awaitsTurn = chunk.value(QStringLiteral("kind")).toString() == QLatin1String("message");
    send->backoff.setPolicy(m_policy);
    send->context = context;
    send->hasContext = context != nullptr;
    send->done = std::move(done);
    send->elapsed.start();
    m_sends.append(send);
    if (send->partId.size() > 64) {
        // Deferred so every outcome reaches the caller from the event loop.
        QMetaObject::invokeMethod(
            this,
            [this, send] {
                complete(send, Error::make(QStringLiteral("An X-Part-Id is at most 64 characters, got %1")
                                               .arg(send->partId.size())));
            },
            Qt::QueuedConnection);
        return send->partId;
    }
    attempt(send);
    return send->partId;
}

void InAppender::attempt(const std::shared_ptr<Send> &send)
{
    if (!m_sends.contains(send))
        return;
    ++send->attempts;
    HttpRequest req;
    req.verb = "POST";
    req.url = m_profile.url(EndpointFamily::In, {QStringLiteral("realtime"), QStringLiteral("v1"),
                                                 QStringLiteral("sessions"), m_session, QStringLiteral("in"),
                                                 QStringLiteral("append")});
    req.body = send->body;
    req.headers.append({"X-Part-Id", send->partId.toLatin1()});
    req.idempotent = true; // X-Part-Id makes a repeat append nothing
    m_transport->send(std::move(req), this, [this, send](Result<HttpResponse> r) { onAnswer(send, std::move(r)); });
}

void InAppender::onAnswer(const std::shared_ptr<Send> &send, Result<HttpResponse> answer)
{
    if (answer) {
        const auto object = answer->jsonObject();
        if (!object) {
            complete(send, object.error());
            return;
        }
        const QJsonValue seq = object->value(QStringLiteral("seq"));
        if (object->value(QStringLiteral("ok")) == QJsonValue(false) || !seq.isDouble()) {
            Error e = Error::make(QStringLiteral("The server accepted the append but sent no seq: %1")
                                      .arg(QString::fromUtf8(answer->body.left(200))));
            e.httpStatus = answer->status;
            complete(send, e);
            return;
        }
        InAppendResult outcome;
        outcome.partId = send->partId;
        outcome.seq = saturatedInt64(seq.toDouble());
        outcome.attempts = send->attempts;
        complete(send, outcome);
        return;
    }
    const Error &e = answer.error();
    send->lastError = e;
    const bool withinLimits = send->attempts < m_maxAttempts && send->elapsed.elapsed() < m_deadline.count();
    if (!isRetryable(e) || !withinLimits) {
        Error final = e;
        if (isRetryable(e))
            final.message = QStringLiteral("%1 (gave up after %2 attempts)").arg(e.message).arg(send->attempts);
        complete(send, final);
        return;
    }
    const auto delay = send->backoff.next();
    qCDebug(lcAppend).noquote() << "append" << send->partId << "attempt" << send->attempts << "failed:" << e.message
                                << "- retrying in" << delay.count() << "ms";
    Q_EMIT retrying(send->partId, send->attempts, e, QDateTime::currentDateTimeUtc().addMSecs(delay.count()));
    QTimer::singleShot(delay, this, [this, send] { attempt(send); });
}

void InAppender::complete(const std::shared_ptr<Send> &send, Result<InAppendResult> result)
{
    if (!m_sends.removeOne(send))
        return;
    if (result) {
        const auto seen = std::find_if(m_seenTurnCompletes.cbegin(), m_seenTurnCompletes.cend(),
                                       [seq = result->seq](const auto &tc) { return tc.first >= seq; });
        const bool answeredAlready = send->awaitsTurn && seen != m_seenTurnCompletes.cend();
        if (send->awaitsTurn && !answeredAlready) {
            m_awaiting.append({send->partId, result->seq});
            if (m_awaiting.size() > MaxAwaiting)
                m_awaiting.removeFirst();
        }
        const StreamRecord answer = answeredAlready ? seen->second : StreamRecord();
        Q_EMIT appended(send->partId, result->seq);
        if (answeredAlready)
            Q_EMIT turnCompleted(send->partId, result->seq, answer);
    } else {
        Q_EMIT failed(send->partId, result.error());
    }
    if (send->done && (!send->hasContext || send->context))
        send->done(std::move(result));
}

void InAppender::observeRecords(const QList<StreamRecord> &records)
{
    for (const StreamRecord &r : records) {
        if (r.kind != RecordKind::Control || r.subtype() != "turn-complete")
            continue;
        const auto consumed = r.header("session-in-event-id");
        if (!consumed)
            continue;
        bool ok = false;
        const qint64 inSeq = consumed->trimmed().toLongLong(&ok);
        if (!ok)
            continue;
        m_seenTurnCompletes.append({inSeq, r});
        if (m_seenTurnCompletes.size() > MaxSeenTurnCompletes)
            m_seenTurnCompletes.removeFirst();
        // Emit after updating the list so a slot that sends again sees it
        // consistent.
        QList<Awaiting> answered;
        for (auto it = m_awaiting.begin(); it != m_awaiting.end();) {
            if (it->seq <= inSeq) {
                answered.append(*it);
                it = m_awaiting.erase(it);
            } else {
                ++it;
            }
        }
        for (const Awaiting &a : std::as_const(answered))
            Q_EMIT turnCompleted(a.partId, a.seq, r);
    }
}

} // namespace sessionscope
