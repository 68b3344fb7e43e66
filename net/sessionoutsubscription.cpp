#include "net/sessionoutsubscription.h"

#include "net/redaction.h"
#include "net/s2batchdecoder.h"
#include "net/sseparser.h"

#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

#include <algorithm>
#include <limits>

namespace sessionscope {

Q_LOGGING_CATEGORY(lcSubscription, "sessionscope.net.subscription", QtInfoMsg)

namespace {

// A [DONE] on a connection younger than this that brought nothing new counts
// towards backoff, so a server that closes at once cannot make us spin.
constexpr qint64 ShortConnectionMs = 1000;
constexpr int EmptyDonesBeforeBackoff = 3;

} // namespace

SessionOutSubscription::SessionOutSubscription(const ConnectionProfile &profile, const QString &session,
                                               QObject *parent)
    : QObject(parent), m_profile(profile), m_session(session), m_parser(std::make_unique<SseParser>()),
      m_decoder(std::make_unique<S2BatchDecoder>())
{
    const QString key = profile.secretKey;
    m_bearer = [key] { return key; };
    m_backoff.setPolicy(m_options.backoff);
    m_retryTimer.setSingleShot(true);
    m_watchdog.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &SessionOutSubscription::connectNow);
    connect(&m_watchdog, &QTimer::timeout, this, &SessionOutSubscription::onWatchdog);
}

SessionOutSubscription::~SessionOutSubscription()
{
    endConnection();
    if (m_ownsManager)
        delete m_manager.data();
}

void SessionOutSubscription::setOptions(const Options &options)
{
    m_options = options;
    m_options.timeoutSeconds = std::clamp(options.timeoutSeconds, 1, 600);
    m_backoff.setPolicy(options.backoff);
}

void SessionOutSubscription::setNetworkAccessManager(QNetworkAccessManager *manager)
{
    if (m_ownsManager && m_manager != manager)
        m_manager->deleteLater();
    m_manager = manager;
    m_ownsManager = false;
}

QNetworkAccessManager *SessionOutSubscription::manager()
{
    if (!m_manager) {
        m_manager = new QNetworkAccessManager(this);
        m_ownsManager = true;
    }
    return m_manager;
}

QString SessionOutSubscription::stateName(State state)
{
    switch (state) {
    case State::Idle:
        return QStringLiteral("idle");
    case State::Connecting:
        return QStringLiteral("connecting");
    case State::Live:
        return QStringLiteral("live");
    case State::CaughtUp:
        return QStringLiteral("caught up");
    case State::BackingOff:
        return QStringLiteral("backing off");
    case State::Settled:
        return QStringLiteral("settled");
    case State::Failed:
        return QStringLiteral("failed");
    case State::Stopped:
        return QStringLiteral("stopped");
    }
    return {};
}

void SessionOutSubscription::start(qint64 afterSeq)
{
    endConnection();
    m_lastSeq = std::max<qint64>(afterSeq, -1);
    m_tail.reset();
    m_failure = {};
    m_failures = 0;
    m_emptyDones = 0;
    m_reconnecting = false;
    m_backoff.reset();
    connectNow();
}

void SessionOutSubscription::stop()
{
    m_retryTimer.stop();
    m_watchdog.stop();
    endConnection();
    setState(State::Stopped);
}

void SessionOutSubscription::resume()
{
    if (m_state == State::Connecting || m_state == State::Live || m_state == State::CaughtUp)
        return;
    m_failure = {};
    m_failures = 0;
    m_emptyDones = 0;
    m_backoff.reset();
    // The caller expects more (e.g. it just sent a message): no peeking on
    // this first connection, or a settled session would stop us again.
    m_reconnecting = false;
    connectNow();
}

void SessionOutSubscription::endConnection()
{
    if (!m_reply)
        return;
    QNetworkReply *reply = m_reply;
    m_reply = nullptr;
    reply->disconnect(this);
    reply->abort();
    reply->deleteLater();
}

void SessionOutSubscription::connectNow()
{
    m_retryTimer.stop();
    endConnection();
    m_parser->reset();
    m_headersSeen = false;
    m_httpOk = false;
    m_gotDone = false;
    m_sessionSettled = false;
    m_progress = false;
    m_abortReason.clear();

    const bool out = m_options.channel == Channel::Out;
    QNetworkRequest req(m_profile.url(out ? EndpointFamily::Out : EndpointFamily::In,
                                      {QStringLiteral("realtime"), QStringLiteral("v1"), QStringLiteral("sessions"),
                                       m_session, out ? QStringLiteral("out") : QStringLiteral("in")}));
    req.setRawHeader("Accept", "text/event-stream");
    req.setRawHeader("Cache-Control", "no-cache");
    req.setRawHeader("User-Agent", "sessionscope/" SESSIONSCOPE_VERSION);
    req.setRawHeader("Timeout-Seconds", QByteArray::number(m_options.timeoutSeconds));
    if (m_lastSeq >= 0)
        req.setRawHeader("Last-Event-ID", QByteArray::number(m_lastSeq));
    if (m_reconnecting && m_options.peekSettled)
        req.setRawHeader("X-Peek-Settled", "1");
    if (m_bearer) {
        const QString bearer = m_bearer();
        if (!bearer.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + bearer.toUtf8());
    }
    req.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::SameOriginRedirectPolicy);

    qCDebug(lcSubscription).noquote() << "GET" << redactUrl(req.url()) << "after seq" << m_lastSeq
                                      << (m_reconnecting ? "(reconnect)" : "");
    QNetworkReply *reply = manager()->get(req);
    m_reply = reply;
    ++m_connections;
    m_reconnecting = true;
    connect(reply, &QNetworkReply::metaDataChanged, this, [this, reply] {
        if (reply == m_reply)
            onMetaData();
    });
    connect(reply, &QNetworkReply::readyRead, this, [this, reply] {
        if (reply == m_reply)
            onReadyRead();
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        if (reply == m_reply)
            onFinished();
    });
    m_connectionAge.start();
    m_watchdog.start(m_options.connectTimeout);
    setState(State::Connecting);
}

void SessionOutSubscription::onMetaData()
{
    const QVariant status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (!status.isValid())
        return;
    m_headersSeen = true;
    const int code = status.toInt();
    m_httpOk = code >= 200 && code < 300;
    if (!m_httpOk)
        return;
    m_sessionSettled = m_reply->rawHeader("X-Session-Settled").trimmed().compare("true", Qt::CaseInsensitive) == 0;
    m_watchdog.start(m_options.stallTimeout);
    if (m_state == State::Connecting)
        setState(State::Live);
    updateLiveState();
}

void SessionOutSubscription::onReadyRead()
{
    if (!m_headersSeen)
        onMetaData();
    // An error body is read whole in onFinished for the server's message.
    if (!m_httpOk)
        return;
    m_watchdog.start(m_options.stallTimeout);
    const QByteArray bytes = m_reply->readAll();
    QList<SseEvent> events;
    m_parser->feed(bytes, events);
    process(events);
}

void SessionOutSubscription::process(QList<SseEvent> &events)
{
    QList<StreamRecord> batch;
    QList<Error> errors = m_parser->takeErrors();
    for (const SseEvent &event : events) {
        S2Event decoded = m_decoder->decode(event);
        errors.append(decoded.errors);
        switch (decoded.type) {
        case S2Event::Type::Batch:
            for (StreamRecord &r : decoded.records) {
                // The cursor only moves forward: whatever a reconnect sends
                // again (or out of order) is dropped here.
                if (r.seqNum > m_lastSeq) {
                    m_lastSeq = r.seqNum;
                    batch.append(std::move(r));
                } else {
                    ++m_duplicates;
                }
            }
            break;
        case S2Event::Type::Done:
            m_gotDone = true;
            break;
        case S2Event::Type::Error:
            errors.append(Error::make(QStringLiteral("The server reported an error on the stream: %1")
                                          .arg(decoded.serverError)));
            break;
        case S2Event::Type::Ping:
        case S2Event::Type::Other:
            break;
        }
        if (decoded.tail && (!m_tail || m_tail->seqNum != decoded.tail->seqNum ||
                             m_tail->timestamp != decoded.tail->timestamp)) {
            m_tail = decoded.tail;
            Q_EMIT tailChanged(*m_tail);
        }
    }
    if (!batch.isEmpty()) {
        m_progress = true;
        m_failures = 0;
        m_emptyDones = 0;
        m_backoff.reset();
        m_delivered += batch.size();
    }
    // A slot may stop or restart us; the reply tells whether we still own
    // this connection afterwards.
    QPointer<QNetworkReply> reply = m_reply;
    if (!batch.isEmpty())
        Q_EMIT recordsReceived(batch);
    for (const Error &e : std::as_const(errors))
        Q_EMIT streamError(e);
    if (reply && reply == m_reply)
        updateLiveState();
}

void SessionOutSubscription::updateLiveState()
{
    if (!m_httpOk || (m_state != State::Live && m_state != State::CaughtUp))
        return;
    if (isCaughtUp()) {
        if (m_state != State::CaughtUp) {
            setState(State::CaughtUp);
            Q_EMIT caughtUp(m_lastSeq);
        }
    } else {
        setState(State::Live);
    }
}

void SessionOutSubscription::onWatchdog()
{
    if (!m_reply)
        return;
    m_abortReason = m_headersSeen
        ? QStringLiteral("no data (records or pings) for %1 ms").arg(m_options.stallTimeout.count())
        : QStringLiteral("no answer within %1 ms").arg(m_options.connectTimeout.count());
    m_reply->abort();
}

void SessionOutSubscription::onFinished()
{
    QNetworkReply *reply = m_reply;
    m_watchdog.stop();
    if (m_httpOk && m_abortReason.isEmpty()) {
        const QByteArray rest = reply->readAll();
        if (!rest.isEmpty()) {
            QList<SseEvent> events;
            m_parser->feed(rest, events);
            process(events);
            if (reply != m_reply)
                return;
        }
    }
    const QVariant statusAttr = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    const int status = statusAttr.isValid() ? statusAttr.toInt() : 0;
    const QNetworkReply::NetworkError error = reply->error();
    const QString errorString = reply->errorString();
    const QByteArray body = m_httpOk ? QByteArray() : reply->readAll();
    HttpResponse response = RestTransport::responseOf(reply, body);
    m_reply = nullptr;
    reply->disconnect(this);
    reply->deleteLater();
    // A partial event at the end is simply not delivered: the reconnect
    // starts after the last whole record, so it comes again.
    m_parser->finish();

    if (!m_abortReason.isEmpty()) {
        reconnectAfter(Error::make(m_abortReason));
        return;
    }
    if (m_httpOk) {
        const bool cleanEnd = m_gotDone || error == QNetworkReply::NoError;
        if (m_sessionSettled && cleanEnd) {
            setState(State::Settled);
            Q_EMIT settled(m_lastSeq);
            return;
        }
        if (m_gotDone) {
            if (!m_progress && m_connectionAge.elapsed() < ShortConnectionMs)
                ++m_emptyDones;
            else
                m_emptyDones = 0;
            if (m_emptyDones < EmptyDonesBeforeBackoff) {
                m_failures = 0;
                m_backoff.reset();
                // Through the event loop: no recursion however fast the
                // server closes.
                m_retryTimer.start(0);
                return;
            }
            reconnectAfter(Error::make(QStringLiteral("The server keeps closing the stream at once")));
            return;
        }
        reconnectAfter(Error::make(error != QNetworkReply::NoError
                                       ? QStringLiteral("The stream broke: %1").arg(redactSecrets(errorString))
                                       : QStringLiteral("The server closed the stream without [DONE]")));
        return;
    }
    if (status == 0) {
        Error e = Error::make(QStringLiteral("No answer from %1: %2")
                                  .arg(redactUrl(m_profile.endpoint(m_options.channel == Channel::Out
                                                                        ? EndpointFamily::Out
                                                                        : EndpointFamily::In)),
                                       redactSecrets(errorString)));
        e.retrySafe = true;
        reconnectAfter(e);
        return;
    }
    HttpRequest get;
    Error e = RestTransport::errorFromResponse(response, get);
    if (status >= 500 || status == 429 || status == 408)
        reconnectAfter(e, status == 429 ? RestTransport::rateLimitReset(response) : std::nullopt);
    else
        fail(e);
}

void SessionOutSubscription::reconnectAfter(const Error &reason, std::optional<QDateTime> notBefore)
{
    ++m_failures;
    if (m_options.maxConsecutiveFailures > 0 && m_failures >= m_options.maxConsecutiveFailures) {
        Error e = reason;
        e.message = QStringLiteral("%1 (gave up after %2 failed attempts)").arg(reason.message).arg(m_failures);
        fail(e);
        return;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    qint64 delay = m_backoff.next().count();
    if (notBefore)
        delay = std::max(delay, now.msecsTo(*notBefore));
    m_nextAttemptAt = now.addMSecs(delay);
    qCDebug(lcSubscription).noquote() << "reconnecting in" << delay << "ms:" << reason.message;
    setState(State::BackingOff);
    Q_EMIT backingOff(m_nextAttemptAt, reason);
    if (m_state == State::BackingOff)
        m_retryTimer.start(int(std::min<qint64>(delay, std::numeric_limits<int>::max())));
}

void SessionOutSubscription::fail(const Error &reason)
{
    m_retryTimer.stop();
    m_failure = reason;
    setState(State::Failed);
    Q_EMIT failed(reason);
}

void SessionOutSubscription::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

} // namespace sessionscope
