#include "net/sessionsclient.h"

#include "net/saturate.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>

namespace sessionscope {

namespace {

QDateTime isoDate(const QJsonValue &value)
{
    if (!value.isString())
        return {};
    QDateTime dt = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
    if (dt.isValid())
        dt = dt.toUTC();
    return dt;
}

QString isoString(const QDateTime &dt)
{
    return dt.toUTC().toString(Qt::ISODateWithMs);
}

QStringList stringList(const QJsonValue &value)
{
    QStringList out;
    for (const QJsonValue &v : value.toArray()) {
        if (v.isString())
            out.append(v.toString());
    }
    return out;
}

QString optionalString(const QJsonObject &o, const QString &key)
{
    const QJsonValue v = o.value(key);
    return v.isString() ? v.toString() : QString();
}

Error malformed(const QString &what, int status)
{
    Error e = Error::make(QStringLiteral("The server's answer is not a valid %1").arg(what));
    e.httpStatus = status;
    return e;
}

Error noRunsExtension()
{
    Error e = Error::make(QStringLiteral(
        "This backend has no /runs extension (Trigger.dev does not list a session's runs); "
        "run history is built from what the client observes"));
    e.httpStatus = 404;
    return e;
}

bool looksLikeMissingRoute(int status)
{
    return status == 404 || status == 405 || status == 501;
}

} // namespace

QString SessionItem::status(const QDateTime &now) const
{
    if (isClosed())
        return QStringLiteral("CLOSED");
    if (expiresAt.isValid() && expiresAt <= now)
        return QStringLiteral("EXPIRED");
    return QStringLiteral("ACTIVE");
}

Result<SessionItem> SessionItem::fromJson(const QJsonObject &o)
{
    SessionItem s;
    s.id = optionalString(o, QStringLiteral("id"));
    if (s.id.isEmpty())
        return Error::make(QStringLiteral("A session in the server's answer has no id"));
    s.externalId = optionalString(o, QStringLiteral("externalId"));
    s.type = optionalString(o, QStringLiteral("type"));
    s.taskIdentifier = optionalString(o, QStringLiteral("taskIdentifier"));
    s.triggerConfig = o.value(QStringLiteral("triggerConfig")).toObject();
    s.currentRunId = optionalString(o, QStringLiteral("currentRunId"));
    s.tags = stringList(o.value(QStringLiteral("tags")));
    s.metadata = o.contains(QStringLiteral("metadata")) ? o.value(QStringLiteral("metadata")) : QJsonValue::Null;
    s.closedAt = isoDate(o.value(QStringLiteral("closedAt")));
    s.closedReason = optionalString(o, QStringLiteral("closedReason"));
    s.expiresAt = isoDate(o.value(QStringLiteral("expiresAt")));
    s.createdAt = isoDate(o.value(QStringLiteral("createdAt")));
    s.updatedAt = isoDate(o.value(QStringLiteral("updatedAt")));
    s.raw = o;
    return s;
}

Result<void> CreateSessionRequest::validate() const
{
    if (taskIdentifier.trimmed().isEmpty())
        return Error::make(QStringLiteral("A session needs a task identifier"));
    if (type.trimmed().isEmpty())
        return Error::make(QStringLiteral("A session needs a type (\"chat.agent\" for chat agents)"));
    if (externalId.startsWith(QLatin1String("session_")))
        return Error::make(QStringLiteral("An externalId may not start with \"session_\""));
    return {};
}

QJsonObject CreateSessionRequest::toJson() const
{
    QJsonObject triggerConfig = triggerOptions;
    triggerConfig.insert(QStringLiteral("basePayload"), basePayload);
    QJsonObject o{{QStringLiteral("type"), type},
                  {QStringLiteral("taskIdentifier"), taskIdentifier},
                  {QStringLiteral("triggerConfig"), triggerConfig}};
    if (!externalId.isEmpty())
        o.insert(QStringLiteral("externalId"), externalId);
    if (!tags.isEmpty())
        o.insert(QStringLiteral("tags"), QJsonArray::fromStringList(tags));
    if (!metadata.isUndefined())
        o.insert(QStringLiteral("metadata"), metadata);
    if (expiresAt.isValid())
        o.insert(QStringLiteral("expiresAt"), isoString(expiresAt));
    return o;
}

Result<void> SessionListFilter::validate() const
{
    if (pageSize != 0 && (pageSize < 1 || pageSize > 100))
        return Error::make(QStringLiteral("The page size must be between 1 and 100, got %1").arg(pageSize));
    if (!after.isEmpty() && !before.isEmpty())
        return Error::make(QStringLiteral("A page is either after or before a cursor, not both"));
    static const QStringList known{QStringLiteral("ACTIVE"), QStringLiteral("CLOSED"), QStringLiteral("EXPIRED")};
    for (const QString &s : statuses) {
        if (!known.contains(s.toUpper()))
            return Error::make(QStringLiteral("Unknown session status \"%1\" (ACTIVE, CLOSED, EXPIRED)").arg(s));
    }
    return {};
}

QueryItems SessionListFilter::toQuery() const
{
    QueryItems q;
    const auto add = [&q](const char *key, const QString &value) {
        if (!value.isEmpty())
            q.append({QString::fromLatin1(key), value});
    };
    if (pageSize > 0)
        add("page[size]", QString::number(pageSize));
    add("page[after]", after);
    add("page[before]", before);
    add("filter[type]", types.join(QLatin1Char(',')));
    add("filter[tags]", tags.join(QLatin1Char(',')));
    add("filter[taskIdentifier]", taskIdentifiers.join(QLatin1Char(',')));
    add("filter[externalId]", externalId);
    QStringList upper;
    for (const QString &s : statuses)
        upper.append(s.toUpper());
    add("filter[status]", upper.join(QLatin1Char(',')));
    add("filter[createdAt][period]", createdPeriod);
    if (createdFromMs)
        add("filter[createdAt][from]", QString::number(*createdFromMs));
    if (createdToMs)
        add("filter[createdAt][to]", QString::number(*createdToMs));
    return q;
}

QJsonObject SessionUpdate::toJson() const
{
    QJsonObject o;
    if (tags)
        o.insert(QStringLiteral("tags"), QJsonArray::fromStringList(*tags));
    if (metadata)
        o.insert(QStringLiteral("metadata"), *metadata);
    if (externalId)
        o.insert(QStringLiteral("externalId"), *externalId);
    return o;
}

Result<RunDetails> RunDetails::fromJson(const QJsonObject &o)
{
    RunDetails r;
    r.id = optionalString(o, QStringLiteral("id"));
    if (r.id.isEmpty())
        return Error::make(QStringLiteral("A run in the server's answer has no id"));
    r.status = optionalString(o, QStringLiteral("status"));
    r.taskIdentifier = optionalString(o, QStringLiteral("taskIdentifier"));
    r.version = optionalString(o, QStringLiteral("version"));
    r.createdAt = isoDate(o.value(QStringLiteral("createdAt")));
    r.updatedAt = isoDate(o.value(QStringLiteral("updatedAt")));
    r.startedAt = isoDate(o.value(QStringLiteral("startedAt")));
    r.finishedAt = isoDate(o.value(QStringLiteral("finishedAt")));
    r.tags = stringList(o.value(QStringLiteral("tags")));
    r.durationMs = saturatedInt64(o.value(QStringLiteral("durationMs")).toDouble());
    r.isCompleted = o.value(QStringLiteral("isCompleted")).toBool();
    r.isSuccess = o.value(QStringLiteral("isSuccess")).toBool();
    r.isFailed = o.value(QStringLiteral("isFailed")).toBool();
    r.isCancelled = o.value(QStringLiteral("isCancelled")).toBool();
    r.raw = o;
    return r;
}

Result<SessionRunEntry> SessionRunEntry::fromJson(const QJsonObject &o)
{
    SessionRunEntry r;
    r.id = optionalString(o, QStringLiteral("id"));
    r.sessionId = optionalString(o, QStringLiteral("sessionId"));
    r.runId = optionalString(o, QStringLiteral("runId"));
    if (r.runId.isEmpty())
        return Error::make(QStringLiteral("A session run row in the server's answer has no runId"));
    r.reason = optionalString(o, QStringLiteral("reason"));
    r.triggeredAt = isoDate(o.value(QStringLiteral("triggeredAt")));
    if (const QJsonValue run = o.value(QStringLiteral("run")); run.isObject()) {
        if (auto details = RunDetails::fromJson(run.toObject()))
            r.run = *details;
    }
    r.raw = o;
    return r;
}

SessionsClient::SessionsClient(const ConnectionProfile &profile, QObject *parent)
    : QObject(parent), m_profile(profile), m_transport(new RestTransport(this))
{
    m_transport->setBearer(profile.secretKey);
}

template <typename T>
void SessionsClient::failLater(QObject *context, ResultCallback<T> done, Error error)
{
    // Callers get every answer from the event loop, never from inside the
    // call, so their state is the same whichever way a call fails.
    QPointer<QObject> guard(context);
    QMetaObject::invokeMethod(
        this,
        [guard, hasContext = context != nullptr, done = std::move(done), error = std::move(error)] {
            if (done && (!hasContext || guard))
                done(error);
        },
        Qt::QueuedConnection);
}

template <typename T, typename Parse>
void SessionsClient::call(HttpRequest request, QObject *context, ResultCallback<T> done, Parse parse)
{
    m_transport->send(std::move(request), context,
                      [done = std::move(done), parse = std::move(parse)](Result<HttpResponse> r) {
                          if (!r) {
                              if (done)
                                  done(r.error());
                              return;
                          }
                          Result<T> parsed = parse(*r);
                          if (done)
                              done(std::move(parsed));
                      });
}

HttpRequest SessionsClient::request(QByteArray verb, const QStringList &segments, const QueryItems &query,
                                    const QJsonObject &body) const
{
    HttpRequest r;
    r.verb = std::move(verb);
    r.url = m_profile.url(EndpointFamily::Sessions, segments, query);
    if (r.verb != "GET")
        r.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
    r.idempotent = r.verb == "GET" || r.verb == "PATCH";
    return r;
}

Result<SessionItem> SessionsClient::parseSession(const HttpResponse &response, bool announce)
{
    const auto object = response.jsonObject();
    if (!object)
        return object.error();
    auto item = SessionItem::fromJson(*object);
    if (!item)
        return malformed(QStringLiteral("session (%1)").arg(item.error().message), response.status);
    if (announce)
        Q_EMIT sessionSeen(*item);
    return item;
}

void SessionsClient::createSession(const CreateSessionRequest &create, QObject *context,
                                   ResultCallback<CreatedSession> done)
{
    if (auto v = create.validate(); !v) {
        failLater(context, std::move(done), v.error());
        return;
    }
    HttpRequest req = request("POST", {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions")}, {},
                              create.toJson());
    // With an externalId a repeat returns the same session (isCached); without
    // one a repeat would create a second session.
    req.idempotent = !create.externalId.isEmpty();
    call<CreatedSession>(std::move(req), context, std::move(done), [this](const HttpResponse &r) -> Result<CreatedSession> {
        auto item = parseSession(r, false);
        if (!item)
            return item.error();
        CreatedSession c;
        c.session = *item;
        c.runId = optionalString(item->raw, QStringLiteral("runId"));
        if (c.runId.isEmpty())
            c.runId = item->currentRunId;
        c.publicAccessToken = optionalString(item->raw, QStringLiteral("publicAccessToken"));
        c.isCached = item->raw.value(QStringLiteral("isCached")).toBool();
        // Created first: observers learn the run's reason before they see it.
        Q_EMIT sessionCreated(c);
        Q_EMIT sessionSeen(c.session);
        return c;
    });
}

void SessionsClient::listSessions(const SessionListFilter &query, QObject *context, ResultCallback<SessionListPage> done)
{
    if (auto v = query.validate(); !v) {
        failLater(context, std::move(done), v.error());
        return;
    }
    call<SessionListPage>(request("GET", {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions")},
                              query.toQuery()),
                      context, std::move(done), [this](const HttpResponse &r) -> Result<SessionListPage> {
                          const auto object = r.jsonObject();
                          if (!object)
                              return object.error();
                          const QJsonValue data = object->value(QStringLiteral("data"));
                          if (!data.isArray())
                              return malformed(QStringLiteral("session list (no data array)"), r.status);
                          SessionListPage page;
                          for (const QJsonValue &v : data.toArray()) {
                              auto item = SessionItem::fromJson(v.toObject());
                              if (!item)
                                  return malformed(QStringLiteral("session list (%1)").arg(item.error().message),
                                                   r.status);
                              page.sessions.append(*item);
                          }
                          const QJsonObject pagination = object->value(QStringLiteral("pagination")).toObject();
                          page.nextCursor = optionalString(pagination, QStringLiteral("next"));
                          page.previousCursor = optionalString(pagination, QStringLiteral("previous"));
                          for (const SessionItem &s : std::as_const(page.sessions))
                              Q_EMIT sessionSeen(s);
                          return page;
                      });
}

void SessionsClient::retrieveSession(const QString &id, QObject *context, ResultCallback<SessionItem> done)
{
    if (id.trimmed().isEmpty()) {
        failLater(context, std::move(done), Error::make(QStringLiteral("A session id or external id is required")));
        return;
    }
    call<SessionItem>(request("GET", {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions"), id}),
                      context, std::move(done), [this](const HttpResponse &r) { return parseSession(r); });
}

void SessionsClient::updateSession(const QString &id, const SessionUpdate &update, QObject *context,
                                   ResultCallback<SessionItem> done)
{
    call<SessionItem>(request("PATCH", {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions"), id},
                              {}, update.toJson()),
                      context, std::move(done), [this](const HttpResponse &r) { return parseSession(r); });
}

void SessionsClient::closeSession(const QString &id, const QString &reason, QObject *context,
                                  ResultCallback<SessionItem> done)
{
    if (reason.size() > 256) {
        failLater(context, std::move(done),
                  Error::make(QStringLiteral("A close reason is at most 256 characters, got %1").arg(reason.size())));
        return;
    }
    QJsonObject body;
    if (!reason.isEmpty())
        body.insert(QStringLiteral("reason"), reason);
    HttpRequest req = request(
        "POST", {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions"), id, QStringLiteral("close")},
        {}, body);
    req.idempotent = true; // a second close keeps the first closedAt
    call<SessionItem>(std::move(req), context, std::move(done), [this](const HttpResponse &r) { return parseSession(r); });
}

void SessionsClient::endAndContinue(const QString &id, const QString &callingRunId, const QString &reason,
                                    QObject *context, ResultCallback<EndAndContinueResult> done)
{
    const QJsonObject body{{QStringLiteral("callingRunId"), callingRunId}, {QStringLiteral("reason"), reason}};
    call<EndAndContinueResult>(
        request("POST",
                {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions"), id,
                 QStringLiteral("end-and-continue")},
                {}, body),
        context, std::move(done), [this, id, reason](const HttpResponse &r) -> Result<EndAndContinueResult> {
            const auto object = r.jsonObject();
            if (!object)
                return object.error();
            EndAndContinueResult result;
            result.runId = optionalString(*object, QStringLiteral("runId"));
            result.swapped = object->value(QStringLiteral("swapped")).toBool();
            if (result.runId.isEmpty())
                return malformed(QStringLiteral("end-and-continue answer (no runId)"), r.status);
            if (result.swapped)
                Q_EMIT runTakenOver(id, result.runId, reason);
            return result;
        });
}

void SessionsClient::retrieveRun(const QString &runId, QObject *context, ResultCallback<RunDetails> done)
{
    if (runId.trimmed().isEmpty()) {
        failLater(context, std::move(done), Error::make(QStringLiteral("A run id is required")));
        return;
    }
    call<RunDetails>(request("GET", {QStringLiteral("api"), QStringLiteral("v3"), QStringLiteral("runs"), runId}),
                     context, std::move(done), [this](const HttpResponse &r) -> Result<RunDetails> {
                         const auto object = r.jsonObject();
                         if (!object)
                             return object.error();
                         auto run = RunDetails::fromJson(*object);
                         if (!run)
                             return malformed(QStringLiteral("run (%1)").arg(run.error().message), r.status);
                         Q_EMIT runSeen(*run);
                         return run;
                     });
}

void SessionsClient::listSessionRuns(const QString &id, QObject *context, ResultCallback<QList<SessionRunEntry>> done)
{
    if (m_runsExtension == RunsExtension::Unavailable) {
        failLater(context, std::move(done), noRunsExtension());
        return;
    }
    const auto parseRows = [this](const HttpResponse &r) -> Result<QList<SessionRunEntry>> {
        const QJsonDocument doc = QJsonDocument::fromJson(r.body);
        // Accept a bare array or the list envelope {data:[...]}.
        const QJsonArray array = doc.isArray() ? doc.array() : doc.object().value(QStringLiteral("data")).toArray();
        if (!doc.isArray() && !doc.object().value(QStringLiteral("data")).isArray())
            return malformed(QStringLiteral("session run list"), r.status);
        QList<SessionRunEntry> rows;
        for (const QJsonValue &v : array) {
            auto row = SessionRunEntry::fromJson(v.toObject());
            if (!row)
                return malformed(QStringLiteral("session run list (%1)").arg(row.error().message), r.status);
            rows.append(*row);
        }
        // Oldest first, whatever order the backend lists them in: a history
        // reads top to bottom. Rows of the same millisecond fall back to
        // their cuids, which grow with time.
        std::sort(rows.begin(), rows.end(), [](const SessionRunEntry &a, const SessionRunEntry &b) {
            if (a.triggeredAt != b.triggeredAt)
                return a.triggeredAt < b.triggeredAt;
            return a.id < b.id;
        });
        setRunsExtension(RunsExtension::Available);
        return rows;
    };
    const QStringList segments{QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("sessions"), id,
                               QStringLiteral("runs")};
    QPointer<QObject> guard(context);
    const bool hasContext = context != nullptr;
    m_transport->send(
        request("GET", segments), context,
        [this, id, parseRows, done = std::move(done), guard, hasContext](Result<HttpResponse> r) mutable {
            if (r) {
                done(parseRows(*r));
                return;
            }
            if (m_runsExtension != RunsExtension::Unknown || !looksLikeMissingRoute(r.error().httpStatus)) {
                done(r.error());
                return;
            }
            // A 404 is either "no such route" or "no such session": the
            // session itself tells them apart.
            retrieveSession(id, hasContext ? guard.data() : this,
                            [this, done = std::move(done), routeError = r.error()](Result<SessionItem> s) {
                                if (!s) {
                                    done(s.error());
                                    return;
                                }
                                setRunsExtension(RunsExtension::Unavailable);
                                Error e = noRunsExtension();
                                e.httpStatus = routeError.httpStatus;
                                done(e);
                            });
        });
}

void SessionsClient::setRunsExtension(RunsExtension state)
{
    if (m_runsExtension == state)
        return;
    m_runsExtension = state;
    Q_EMIT runsExtensionDetected(state == RunsExtension::Available);
}

} // namespace sessionscope
