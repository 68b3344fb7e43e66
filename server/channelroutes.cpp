#include "server/channelroutes.h"

#include "server/chaosinjector.h"
#include "server/durablestream.h"
#include "server/idgenerator.h"
#include "server/sessionservice.h"
#include "server/ssesubscriber.h"
#include "server/streamstore.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcChannels, "sessionscope.server.channels")

namespace sessionscope {

namespace {

using Method = HttpRouter::Method;

std::optional<Channel> channelFrom(const QString &io)
{
    if (io == u"in")
        return Channel::In;
    if (io == u"out")
        return Channel::Out;
    return std::nullopt;
}

void respondParamsError(const HttpExchange::Ptr &exchange)
{
    exchange->respondDetailedError(QStringLiteral("Params Error"),
                                   QStringLiteral("Invalid enum value. Expected 'out' | 'in'"),
                                   QStringLiteral("io"));
}

void respondAppendError(const HttpExchange::Ptr &exchange, int status, const QString &message)
{
    Json body = Json::object();
    body["ok"] = false;
    body["error"] = message.toStdString();
    exchange->respondJson(status, body);
}

QList<ScopeResource> channelResources(const std::optional<SessionRow> &session, const QString &key)
{
    QList<ScopeResource> out{{QStringLiteral("sessions"), key}};
    if (session) {
        if (session->friendlyId != key)
            out.append({QStringLiteral("sessions"), session->friendlyId});
        if (session->externalId && *session->externalId != key)
            out.append({QStringLiteral("sessions"), *session->externalId});
    }
    return out;
}

// Only the hosted webhook ingress may claim webhook trust; a client-sent
// actionSource:"webhook" is deleted so the agent validates the action.
QByteArray stripClientWebhookActionSource(const QByteArray &part)
{
    if (!part.contains("\"actionSource\""))
        return part;
    auto record = wirejson::parse(part);
    if (!record || !record->is_object() || !record->contains("payload") ||
        !(*record)["payload"].is_object())
        return part;
    Json &payload = (*record)["payload"];
    if (!payload.contains("actionSource") || payload["actionSource"] != "webhook")
        return part;
    payload.erase("actionSource");
    return wirejson::dump(*record);
}

} // namespace

bool ChannelRoutes::validPartId(QByteArrayView id)
{
    if (id.isEmpty() || id.size() > 64)
        return false;
    for (char c : id) {
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

std::optional<QList<StreamHeader>> ChannelRoutes::parseRecordHeaders(QByteArrayView text)
{
    const auto parsed = wirejson::parse(text);
    if (!parsed || !parsed->is_array())
        return std::nullopt;
    QList<StreamHeader> out;
    for (const auto &pair : *parsed) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
            return std::nullopt;
        const auto &name = pair[0].get_ref<const std::string &>();
        const auto &value = pair[1].get_ref<const std::string &>();
        out.append({QByteArray(name.data(), qsizetype(name.size())),
                    QByteArray(value.data(), qsizetype(value.size()))});
    }
    return out;
}

QByteArray ChannelRoutes::appendRecordBody(QByteArrayView appended, Channel channel,
                                           QByteArrayView partId)
{
    QByteArray part = wirejson::sanitizedUtf8(appended);
    if (channel == Channel::In)
        part = stripClientWebhookActionSource(part);
    // The webapp stores JSON.stringify({data: part, id: partId}): the
    // appended text becomes a JSON string inside the record body.
    QByteArray body = "{\"data\":";
    wirejson::appendQuoted(body, part);
    body.append(",\"id\":");
    wirejson::appendQuoted(body, partId);
    body.append('}');
    return body;
}

ChannelRoutes::ChannelRoutes(RouteContext context, QObject *parent)
    : QObject(parent), m_ctx(context)
{
}

ChannelRoutes::~ChannelRoutes()
{
    closeSubscribers();
}

void ChannelRoutes::registerRoutes(HttpRouter &router)
{
    const QStringList base{QStringLiteral("realtime"), QStringLiteral("v1"),
                           QStringLiteral("sessions"), QStringLiteral("{}"), QStringLiteral("{}")};
    auto withChannel = [this](auto handler) {
        return [this, handler](const HttpExchange::Ptr &e, const AuthContext &auth,
                               const QStringList &p) {
            const auto channel = channelFrom(p.at(1));
            if (!channel) {
                respondParamsError(e);
                return;
            }
            (this->*handler)(e, auth, p.at(0), *channel);
        };
    };
    router.addRoute(base, {Method::Get, Method::Head}, withChannel(&ChannelRoutes::subscribe));
    router.addRoute(base, {Method::Put}, withChannel(&ChannelRoutes::initialize));
    router.addRoute(base + QStringList{QStringLiteral("append")}, {Method::Post},
                    withChannel(&ChannelRoutes::append));
    router.addRoute(base + QStringList{QStringLiteral("records")}, {Method::Get},
                    withChannel(&ChannelRoutes::records));
}

qint64 ChannelRoutes::startSeqFromLastEventId(QByteArrayView lastEventId)
{
    const QByteArrayView trimmed = lastEventId.trimmed();
    if (trimmed.isEmpty())
        return 0;
    const qsizetype dash = trimmed.indexOf('-');
    const QByteArrayView digits = (dash < 0 ? trimmed : trimmed.first(dash)).trimmed();
    if (digits.isEmpty() || digits.size() > 18)
        return 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return 0;
    }
    return digits.toLongLong() + 1;
}

bool ChannelRoutes::resolve(const HttpExchange::Ptr &exchange, const QString &key,
                            std::optional<SessionRow> *session, QString *addressingKey)
{
    auto found = m_ctx.sessions.findSession(key);
    if (!found) {
        exchange->respondError(500, QStringLiteral("Internal Server Error"));
        return false;
    }
    *session = *found;
    // Streams are keyed like the webapp's: the row's externalId, else its
    // friendly id; without a row, the URL key (a chat id subscribed to before
    // its session exists).
    *addressingKey = *session ? (*session)->addressingKey() : key;
    return true;
}

void ChannelRoutes::append(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                           const QString &key, Channel channel)
{
    if (exchange->bodyTooLarge(MaxAppendBodyBytes)) {
        respondAppendError(exchange, 413, QStringLiteral("Request body too large"));
        return;
    }
    std::optional<SessionRow> session;
    QString addressingKey;
    if (!resolve(exchange, key, &session, &addressingKey))
        return;
    if (!auth.canAny(u"write", channelResources(session, key))) {
        exchange->respondForbidden();
        return;
    }
    if (!session) {
        exchange->respondError(404, QStringLiteral("Resource not found"));
        return;
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (session->isClosed()) {
        respondAppendError(exchange, 400, QStringLiteral("Cannot append to a closed session"));
        return;
    }
    if (session->isExpired(now)) {
        respondAppendError(exchange, 400, QStringLiteral("Cannot append to an expired session"));
        return;
    }
    // `.out` is the agent's channel: a session token must not forge its chunks.
    if (channel == Channel::Out && !auth.isSecretKey()) {
        respondAppendError(
            exchange, 403,
            QStringLiteral("Appending to the out channel requires secret key authentication"));
        return;
    }
    const QByteArray clientPartId = exchange->header("x-part-id");
    if (exchange->hasHeader("x-part-id") && !validPartId(clientPartId)) {
        respondAppendError(exchange, 400,
                           QStringLiteral("X-Part-Id must be 1 to 64 printable ASCII characters"));
        return;
    }
    AppendRecord record;
    record.partId = clientPartId;
    if (exchange->hasHeader("x-record-headers")) {
        // Our extension: a raw record (control or command) with the given
        // headers and the body stored as is. The agent's privilege only.
        if (!auth.isSecretKey()) {
            respondAppendError(
                exchange, 403,
                QStringLiteral("X-Record-Headers requires secret key authentication"));
            return;
        }
        const auto headers = parseRecordHeaders(exchange->header("x-record-headers"));
        if (!headers) {
            respondAppendError(
                exchange, 400,
                QStringLiteral(
                    "X-Record-Headers must be a JSON array of [name, value] string pairs"));
            return;
        }
        record.headers = *headers;
        record.body = exchange->body();
    } else {
        const QByteArray partId = clientPartId.isEmpty() ? IdGenerator::nanoid(7) : clientPartId;
        record.body = appendRecordBody(exchange->body(), channel, partId);
    }

    // Chaos mode: a 503 before anything is stored, or after (the ack is lost).
    const auto fault = m_ctx.chaos ? m_ctx.chaos->appendFault() : ChaosInjector::AppendFault::None;
    if (fault == ChaosInjector::AppendFault::BeforeWrite)
        return respondAppendError(exchange, 503, ChaosInjector::appendFaultMessage(fault));

    // A message for a session whose run is gone starts a continuation run
    // first. Best effort, as in the webapp: the record is durable either way
    // and the next append retries.
    // The common case, a live current run, needs no write transaction.
    bool runAlive = false;
    if (!session->currentRunId.isEmpty()) {
        const auto current = m_ctx.sessions.run(session->currentRunId);
        runAlive = current && !current->isFinal();
    }
    if (!runAlive) {
        if (auto ensured = m_ctx.sessions.ensureRun(*session, RunReason::Continuation); !ensured) {
            qCWarning(lcChannels, "Could not ensure a run for %s: %s",
                      qPrintable(session->friendlyId), qPrintable(ensured.error().message));
        }
    }

    m_ctx.streams.append(
        addressingKey, channel, std::move(record), [exchange, fault](const Result<AppendOutcome> &r) {
            if (r && fault == ChaosInjector::AppendFault::AfterWrite)
                return respondAppendError(exchange, 503, ChaosInjector::appendFaultMessage(fault));
            if (!r) {
                const int status = r.error().httpStatus ? r.error().httpStatus : 500;
                respondAppendError(exchange, status,
                                   status >= 500
                                       ? QStringLiteral("Something went wrong, please try again.")
                                       : r.error().message);
                return;
            }
            Json body = Json::object();
            body["ok"] = true;
            body["seq"] = r->seq;
            exchange->respondJson(200, body);
        });
}

std::optional<QString> ChannelRoutes::resolveForRead(const HttpExchange::Ptr &exchange,
                                                     const AuthContext &auth, const QString &key)
{
    std::optional<SessionRow> session;
    QString addressingKey;
    if (!resolve(exchange, key, &session, &addressingKey))
        return std::nullopt;
    // A friendly id must name a real row; an externalId may be read before its
    // session exists (the chat transport subscribes that early).
    if (!session && SessionRow::isFriendlyIdForm(key)) {
        exchange->respondError(404, QStringLiteral("Not found"), {{"x-should-retry", "false"}});
        return std::nullopt;
    }
    if (!auth.canAny(u"read", channelResources(session, addressingKey))) {
        exchange->respondForbidden();
        return std::nullopt;
    }
    return addressingKey;
}

bool ChannelRoutes::peekSettled(const QString &addressingKey)
{
    auto stream = m_ctx.streams.stream(addressingKey, Channel::Out);
    if (!stream)
        return false;
    auto tail = m_ctx.streams.read(*stream, (*stream)->nextSeq() - 2, 2);
    if (!tail)
        return false;
    // The newest non-command record decides; the trim after a turn-complete is skipped.
    for (auto it = tail->crbegin(); it != tail->crend(); ++it) {
        if (it->record.kind == RecordKind::Command)
            continue;
        return it->record.kind == RecordKind::Control &&
               it->record.header(controlheader::TriggerControl) == controlheader::TurnComplete;
    }
    return false;
}

void ChannelRoutes::subscribe(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                              const QString &key, Channel channel)
{
    const auto readable = resolveForRead(exchange, auth, key);
    if (!readable)
        return;
    const QString &addressingKey = *readable;
    if (exchange->method() == Method::Head) {
        exchange->respondEmpty(200, {{"X-Last-Chunk-Index", "0"}});
        return;
    }
    int timeoutSeconds = m_ctx.config.defaultTimeoutSeconds;
    if (exchange->hasHeader("timeout-seconds")) {
        const QByteArray raw = exchange->header("timeout-seconds").trimmed();
        bool ok = raw.isEmpty();
        const double parsed = raw.isEmpty() ? 0.0 : raw.toDouble(&ok);
        if (!ok || !std::isfinite(parsed) || parsed != std::floor(parsed)) {
            exchange->respond(400, "Invalid timeout seconds", "text/plain;charset=UTF-8");
            return;
        }
        if (parsed < 1) {
            exchange->respond(400, "Timeout seconds must be greater than 0",
                              "text/plain;charset=UTF-8");
            return;
        }
        if (parsed > 600) {
            exchange->respond(400, "Timeout seconds must be less than 600",
                              "text/plain;charset=UTF-8");
            return;
        }
        timeoutSeconds = int(parsed);
    }
    SseOptions options;
    options.startSeq = startSeqFromLastEventId(exchange->header("last-event-id"));
    options.timeoutMs = timeoutSeconds * 1000;
    options.pingIntervalMs = qMax(1, m_ctx.config.pingIntervalMs);
    options.drainMs = qMax(0, m_ctx.config.settleDrainMs);
    // Only on the reconnect path, and only for `.out`: otherwise the peek
    // races the first chunk of a turn that is about to start.
    options.settled = channel == Channel::Out && exchange->header("x-peek-settled") == "1" &&
                      peekSettled(addressingKey);

    auto stream = m_ctx.streams.stream(addressingKey, channel);
    if (!stream) {
        exchange->respondError(500, QStringLiteral("Internal Server Error"));
        return;
    }
    // The SDK's SSEStreamSubscription({from: "latest"}) asks for only what is
    // appended after it connects; a Last-Event-ID wins.
    if (exchange->header("last-event-id").trimmed().isEmpty() &&
        exchange->header("x-trigger-stream-start")
                .trimmed()
                .compare("latest", Qt::CaseInsensitive) == 0)
        options.startSeq = (*stream)->nextSeq();
    QList<HttpExchange::Header> headers{{"Content-Type", "text/event-stream"},
                                        {"Cache-Control", "no-cache"},
                                        {"X-Stream-Version", "v2"},
                                        {"Access-Control-Expose-Headers", "*"}};
    if (options.settled)
        headers.append(HttpExchange::Header("X-Session-Settled", "true"));
    auto *subscriber = new SseSubscriber(exchange, m_ctx.streams, *stream, options, this);
    m_subscribers.append(subscriber);
    connect(subscriber, &SseSubscriber::finished, this, [this, subscriber] {
        m_subscribers.removeOne(subscriber);
        Q_EMIT subscriberCountChanged(subscriberCount());
    });
    Q_EMIT subscriberCountChanged(subscriberCount());
    subscriber->start(headers);
}

void ChannelRoutes::records(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                            const QString &key, Channel channel)
{
    qint64 from = 0;
    if (const auto after = exchange->query(u"afterEventId")) {
        static const QRegularExpression digits(QStringLiteral("^\\d+$"));
        if (!digits.match(*after).hasMatch() || after->size() > 18) {
            exchange->respondDetailedError(QStringLiteral("Query Error"), QStringLiteral("Invalid"),
                                           QStringLiteral("afterEventId"));
            return;
        }
        from = after->toLongLong() + 1;
    }
    const auto readable = resolveForRead(exchange, auth, key);
    if (!readable)
        return;
    auto stream = m_ctx.streams.stream(*readable, channel);
    if (!stream) {
        exchange->respondError(500, QStringLiteral("Internal Server Error"));
        return;
    }
    Json records = Json::array();
    const qint64 tail = (*stream)->nextSeq();
    qint64 cursor = from;
    while (cursor < tail) {
        auto batch = m_ctx.streams.read(*stream, cursor, DurableStream::MaxBatchRecords);
        if (!batch) {
            exchange->respondError(500, QStringLiteral("Internal Server Error"));
            return;
        }
        if (batch->isEmpty())
            break;
        for (const StoredRecord &r : *batch) {
            // Command records (trim, fence) are S2 directives, not data.
            if (r.record.kind == RecordKind::Command)
                continue;
            Json item = Json::object();
            const auto body = wirejson::parse(r.record.body);
            const bool envelope = body && body->is_object();
            item["data"] = envelope && body->contains("data") ? (*body)["data"] : Json("");
            item["id"] = envelope && body->contains("id") && (*body)["id"].is_string()
                             ? (*body)["id"]
                             : Json("");
            item["seqNum"] = r.record.seqNum;
            Json headers = Json::array();
            for (const auto &h : r.record.headers)
                headers.push_back(Json::array({h.first.toStdString(), h.second.toStdString()}));
            item["headers"] = headers;
            records.push_back(std::move(item));
        }
        cursor = batch->last().record.seqNum + 1;
    }
    Json out = Json::object();
    out["records"] = records;
    exchange->respondJson(200, out);
}

void ChannelRoutes::initialize(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                               const QString &key, Channel channel)
{
    if (!auth.can(u"write", {QStringLiteral("sessions"), key})) {
        exchange->respondForbidden();
        return;
    }
    if (channel == Channel::Out && !auth.isSecretKey()) {
        exchange->respond(403, "Initializing the out channel requires secret key authentication",
                          "text/plain;charset=UTF-8");
        return;
    }
    std::optional<SessionRow> session;
    QString addressingKey;
    if (!resolve(exchange, key, &session, &addressingKey))
        return;
    if (!session && SessionRow::isFriendlyIdForm(key)) {
        exchange->respond(404, "Session not found", "text/plain;charset=UTF-8");
        return;
    }
    if (session && session->isClosed()) {
        exchange->respond(400, "Cannot initialize a channel on a closed session",
                          "text/plain;charset=UTF-8");
        return;
    }
    // There is no S2 to hand out credentials for: writers append through
    // .../append (or in-process through StreamStore).
    exchange->respond(501, "Session channels require the S2 realtime backend",
                      "text/plain;charset=UTF-8");
}

void ChannelRoutes::closeSubscribers()
{
    const auto subscribers = m_subscribers;
    for (SseSubscriber *s : subscribers)
        s->close();
}

} // namespace sessionscope
