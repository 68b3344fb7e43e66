#include "server/sessionsroutes.h"

#include "net/saturate.h"
#include "server/authroutes.h"
#include "server/bodyvalidator.h"
#include "server/runsroutes.h"
#include "server/sessionservice.h"
#include "server/tokenservice.h"

#include <QDateTime>
#include <QRegularExpression>

namespace sessionscope {

namespace {

using Method = HttpRouter::Method;

constexpr qint64 kSessionBodyMax = 32 * 1024; // metadata is the only thing that grows
constexpr qint64 kSmallBodyMax = 1024;

const QString kReservedPrefix = QStringLiteral(
    "externalId cannot start with 'session_' (reserved prefix for internal friendlyIds)");

void respondServiceError(const HttpExchange::Ptr &exchange, const Error &error)
{
    const int status = error.httpStatus ? error.httpStatus : 500;
    exchange->respondError(status,
                           status >= 500 ? QStringLiteral("Something went wrong") : error.message);
}

QList<ScopeResource> sessionResources(const SessionRow &session, const QString &urlKey = {})
{
    QList<ScopeResource> out;
    auto add = [&](const QString &id) {
        if (id.isEmpty())
            return;
        for (const auto &r : out) {
            if (r.id == id)
                return;
        }
        out.append({QStringLiteral("sessions"), id});
    };
    add(urlKey);
    add(session.friendlyId);
    if (session.externalId)
        add(*session.externalId);
    return out;
}

Json nullableDate(const std::optional<qint64> &ms)
{
    return ms ? Json(wirejson::isoDate(*ms).toStdString()) : Json();
}

// filter[x]=a,b and repeated filter[x]=a&filter[x]=b both mean "a or b".
QStringList listParam(const HttpExchange &exchange, const QString &key)
{
    QStringList out;
    for (const QString &value : exchange.queryAll(key)) {
        for (const QString &part : value.split(QLatin1Char(','))) {
            const QString p = part.trimmed();
            if (!p.isEmpty() && !out.contains(p))
                out << p;
        }
    }
    return out;
}

std::optional<qint64> coerceInt(const QString &text)
{
    // z.coerce.number().int(): Number(text), which trims and accepts "1e3".
    bool ok = false;
    const double d = text.trimmed().toDouble(&ok);
    if (!ok && text.trimmed().isEmpty())
        return 0;
    if (!ok || !std::isfinite(d) || d != std::floor(d))
        return std::nullopt;
    return saturatedInt64(d);
}

// SessionTriggerConfig as the SDK's schema (@trigger.dev/core 4.8.3) has it:
// only its keys are stored, in its order (zod strips the rest).
Json triggerConfigFrom(BodyValidator &v, const Json &tc)
{
    Json out = Json::object();
    if (v.object(tc, "basePayload", QStringLiteral("triggerConfig.basePayload"), true))
        out["basePayload"] = tc["basePayload"];
    if (auto m = v.oneOf(tc, "machine", QStringLiteral("triggerConfig.machine"),
                         {QStringLiteral("micro"), QStringLiteral("small-1x"),
                          QStringLiteral("small-2x"), QStringLiteral("medium-1x"),
                          QStringLiteral("medium-2x"), QStringLiteral("large-1x"),
                          QStringLiteral("large-2x")}))
        out["machine"] = m->toStdString();
    if (auto q = v.string(tc, "queue", QStringLiteral("triggerConfig.queue"), false, 0, 128))
        out["queue"] = q->toStdString();
    if (auto names =
            v.stringArray(tc, "concurrency", QStringLiteral("triggerConfig.concurrency"), 2, 122)) {
        static const QRegularExpression limitName(QStringLiteral("^[a-zA-Z0-9_-]{1,122}$"));
        for (const QString &name : *names) {
            if (!limitName.match(name).hasMatch())
                v.fail(QStringLiteral("triggerConfig.concurrency"),
                       QStringLiteral("Concurrency limit names are 1-122 characters using only "
                                      "letters, numbers, underscores and hyphens"));
        }
        out["concurrency"] = wirejson::stringArray(*names);
    }
    if (v.has(tc, "concurrencyKey")) {
        // z.union([string, number]).transform(String)
        const Json &key = tc["concurrencyKey"];
        if (key.is_string())
            out["concurrencyKey"] = key;
        else if (key.is_number())
            out["concurrencyKey"] = wirejson::dump(key).toStdString();
        else
            v.fail(
                QStringLiteral("triggerConfig.concurrencyKey"),
                QStringLiteral("Expected string, received %1").arg(BodyValidator::typeName(key)));
    }
    if (auto t = v.stringArray(tc, "tags", QStringLiteral("triggerConfig.tags"), 10, 128))
        out["tags"] = wirejson::stringArray(*t);
    if (auto n =
            v.integer(tc, "maxAttempts", QStringLiteral("triggerConfig.maxAttempts"), false, 1, 10))
        out["maxAttempts"] = *n;
    if (auto n = v.integer(tc, "maxDuration", QStringLiteral("triggerConfig.maxDuration"), false, 1,
                           std::nullopt))
        out["maxDuration"] = *n;
    if (auto s =
            v.string(tc, "lockToVersion", QStringLiteral("triggerConfig.lockToVersion"), false))
        out["lockToVersion"] = s->toStdString();
    // null (the SDK's opt-out) and blank mean absent; the id is kept trimmed.
    if (v.has(tc, "externalDeploymentId") && !tc["externalDeploymentId"].is_null()) {
        if (auto s =
                v.string(tc, "externalDeploymentId",
                         QStringLiteral("triggerConfig.externalDeploymentId"), false, 0, 128, true);
            s && !s->isEmpty())
            out["externalDeploymentId"] = s->toStdString();
    }
    if (auto s = v.string(tc, "region", QStringLiteral("triggerConfig.region"), false))
        out["region"] = s->toStdString();
    if (auto n = v.integer(tc, "idleTimeoutInSeconds",
                           QStringLiteral("triggerConfig.idleTimeoutInSeconds"), false, 1, 3600))
        out["idleTimeoutInSeconds"] = *n;
    if (v.has(tc, "ttl")) {
        // A duration string, or a whole number of seconds >= 0.
        if (tc["ttl"].is_string()) {
            out["ttl"] = tc["ttl"];
        } else if (auto n = v.integer(tc, "ttl", QStringLiteral("triggerConfig.ttl"), false, 0,
                                      std::nullopt)) {
            out["ttl"] = *n;
        }
    }
    return out;
}

} // namespace

SessionsRoutes::SessionsRoutes(RouteContext context) : m_ctx(context) {}

void SessionsRoutes::registerRoutes(HttpRouter &router)
{
    const QString api = QStringLiteral("api"), v1 = QStringLiteral("v1"),
                  sessions = QStringLiteral("sessions");
    const QString param = QStringLiteral("{}");
    router.addRoute(
        {api, v1, sessions}, {Method::Get, Method::Post},
        [this](const HttpExchange::Ptr &e, const AuthContext &auth, const QStringList &) {
            if (e->method() == Method::Post)
                create(e, auth);
            else
                list(e, auth);
        });
    router.addRoute(
        {api, v1, sessions, param}, {Method::Get, Method::Patch},
        [this](const HttpExchange::Ptr &e, const AuthContext &auth, const QStringList &p) {
            if (e->method() == Method::Patch)
                update(e, auth, p.at(0));
            else
                retrieve(e, auth, p.at(0));
        });
    router.addRoute({api, v1, sessions, param, QStringLiteral("close")}, {Method::Post},
                    [this](const HttpExchange::Ptr &e, const AuthContext &auth,
                           const QStringList &p) { close(e, auth, p.at(0)); });
    router.addRoute({api, v1, sessions, param, QStringLiteral("end-and-continue")}, {Method::Post},
                    [this](const HttpExchange::Ptr &e, const AuthContext &auth,
                           const QStringList &p) { endAndContinue(e, auth, p.at(0)); });
    router.addRoute({api, v1, sessions, param, QStringLiteral("runs")}, {Method::Get},
                    [this](const HttpExchange::Ptr &e, const AuthContext &auth,
                           const QStringList &p) { runs(e, auth, p.at(0)); });
    // The SDK's sessions.start() callers mint browser tokens with
    // auth.createPublicToken(), which needs the claims route beside these.
    AuthRoutes(m_ctx.tokens).registerRoutes(router);
}

Json SessionsRoutes::sessionJson(const SessionRow &s, bool withTriggerConfig)
{
    Json j = Json::object();
    j["id"] = s.friendlyId.toStdString();
    j["externalId"] = s.externalId ? Json(s.externalId->toStdString()) : Json();
    j["type"] = s.type.toStdString();
    j["taskIdentifier"] = s.taskIdentifier.toStdString();
    if (withTriggerConfig)
        j["triggerConfig"] = wirejson::parse(s.triggerConfig).value_or(Json::object());
    j["currentRunId"] = s.currentRunId.isEmpty() ? Json() : Json(s.currentRunId.toStdString());
    j["tags"] = wirejson::stringArray(s.tags);
    j["metadata"] = s.metadata ? wirejson::parse(*s.metadata).value_or(Json()) : Json();
    j["closedAt"] = nullableDate(s.closedAt);
    j["closedReason"] = s.closedReason ? Json(s.closedReason->toStdString()) : Json();
    j["expiresAt"] = nullableDate(s.expiresAt);
    j["createdAt"] = wirejson::isoDate(s.createdAt).toStdString();
    j["updatedAt"] = wirejson::isoDate(s.updatedAt).toStdString();
    return j;
}

std::optional<qint64> SessionsRoutes::parseDurationMs(QStringView text)
{
    static const QRegularExpression part(
        QStringLiteral(R"((-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*([a-zµ]*))"),
        QRegularExpression::CaseInsensitiveOption);
    static const QList<QPair<QStringList, double>> units = {
        {{QStringLiteral("ns"), QStringLiteral("nanosecond"), QStringLiteral("nanoseconds")}, 1e-6},
        {{QStringLiteral("us"), QStringLiteral("µs"), QStringLiteral("microsecond"),
          QStringLiteral("microseconds")},
         1e-3},
        {{QString(), QStringLiteral("ms"), QStringLiteral("millisecond"),
          QStringLiteral("milliseconds")},
         1},
        {{QStringLiteral("s"), QStringLiteral("sec"), QStringLiteral("secs"),
          QStringLiteral("second"), QStringLiteral("seconds")},
         1e3},
        {{QStringLiteral("m"), QStringLiteral("min"), QStringLiteral("mins"),
          QStringLiteral("minute"), QStringLiteral("minutes")},
         6e4},
        {{QStringLiteral("h"), QStringLiteral("hr"), QStringLiteral("hrs"), QStringLiteral("hour"),
          QStringLiteral("hours")},
         3.6e6},
        {{QStringLiteral("d"), QStringLiteral("day"), QStringLiteral("days")}, 8.64e7},
        {{QStringLiteral("w"), QStringLiteral("wk"), QStringLiteral("wks"), QStringLiteral("week"),
          QStringLiteral("weeks")},
         6.048e8},
        {{QStringLiteral("mo"), QStringLiteral("month"), QStringLiteral("months")}, 2.6298e9},
        {{QStringLiteral("y"), QStringLiteral("yr"), QStringLiteral("yrs"), QStringLiteral("year"),
          QStringLiteral("years")},
         3.15576e10},
    };
    const QString s = text.toString().trimmed().remove(QLatin1Char(',')).remove(QLatin1Char('_'));
    if (s.isEmpty())
        return std::nullopt;
    double total = 0;
    qsizetype pos = 0;
    bool any = false;
    while (pos < s.size()) {
        if (s.at(pos).isSpace()) {
            ++pos;
            continue;
        }
        const auto m = part.match(s, pos, QRegularExpression::NormalMatch,
                                  QRegularExpression::AnchorAtOffsetMatchOption);
        if (!m.hasMatch() || m.capturedLength() == 0)
            return std::nullopt;
        const QString unit = m.captured(2).toLower();
        double factor = -1;
        for (const auto &u : units) {
            if (u.first.contains(unit)) {
                factor = u.second;
                break;
            }
        }
        if (factor < 0)
            return std::nullopt;
        total += m.captured(1).toDouble() * factor;
        pos = m.capturedEnd();
        any = true;
    }
    if (!any || !std::isfinite(total))
        return std::nullopt;
    return saturatedInt64(total);
}

CreateSessionParams SessionsRoutes::readCreateBody(BodyValidator &v, const Json &root)
{
    CreateSessionParams params;
    const auto type = v.string(root, "type", QStringLiteral("type"), true, 1, 64);
    auto externalId =
        v.string(root, "externalId", QStringLiteral("externalId"), false, 1, 256, true);
    if (externalId && externalId->startsWith(QLatin1String("session_"))) {
        v.fail(QStringLiteral("externalId"), kReservedPrefix);
        externalId.reset();
    }
    if (externalId && externalId->contains(QLatin1Char('/'))) {
        // Kept addressable in a URL path segment (see HttpRouter on %2F).
        v.fail(QStringLiteral("externalId"), QStringLiteral("externalId cannot contain '/'"));
        externalId.reset();
    }
    const auto task =
        v.string(root, "taskIdentifier", QStringLiteral("taskIdentifier"), true, 1, 128);

    Json triggerConfig = Json::object();
    if (v.object(root, "triggerConfig", QStringLiteral("triggerConfig"), true))
        triggerConfig = triggerConfigFrom(v, root["triggerConfig"]);
    const auto tags = v.stringArray(root, "tags", QStringLiteral("tags"), 10, 128);
    if (v.object(root, "metadata", QStringLiteral("metadata"), false))
        params.metadata = wirejson::dump(root["metadata"]);
    if (v.has(root, "expiresAt")) {
        params.expiresAt = wirejson::parseDate(root["expiresAt"]);
        if (!params.expiresAt)
            v.fail(QStringLiteral("expiresAt"), QStringLiteral("Invalid date"));
    }
    params.type = type.value_or(QString());
    params.taskIdentifier = task.value_or(QString());
    params.externalId = externalId;
    params.triggerConfig = wirejson::dump(triggerConfig);
    params.tags = tags.value_or(QStringList());
    return params;
}

void SessionsRoutes::create(const HttpExchange::Ptr &exchange, const AuthContext &auth)
{
    const auto body = exchange->readJsonBody(kSessionBodyMax);
    if (!body)
        return;
    BodyValidator v(*body);
    const CreateSessionParams params = readCreateBody(v, *body);
    if (!v.ok()) {
        exchange->respondError(400, v.message());
        return;
    }
    if (!auth.canAny(u"write", {{QStringLiteral("tasks"), params.taskIdentifier},
                                {QStringLiteral("sessions"), QString()}})) {
        exchange->respondForbidden();
        return;
    }

    auto created = m_ctx.sessions.createSession(params);
    if (!created) {
        respondServiceError(exchange, created.error());
        return;
    }
    const QByteArray token = m_ctx.tokens.mintSessionToken(created->session.addressingKey(), {},
                                                           m_ctx.config.tokenTtlSeconds);
    Json out = sessionJson(created->session, true);
    out["currentRunId"] = created->run.id.toStdString();
    out["runId"] = created->run.id.toStdString();
    out["publicAccessToken"] = token.toStdString();
    out["isCached"] = created->isCached;
    exchange->respondJson(created->isCached ? 200 : 201, out);
}

void SessionsRoutes::list(const HttpExchange::Ptr &exchange, const AuthContext &auth)
{
    SessionListQuery query;
    if (const auto size = exchange->query(u"page[size]")) {
        const auto n = coerceInt(*size);
        if (!n || *n < 1 || *n > 100) {
            exchange->respondDetailedError(
                QStringLiteral("Query Error"),
                QStringLiteral("page[size] must be an integer from 1 to 100"),
                QStringLiteral("page[size]"));
            return;
        }
        query.pageSize = int(*n);
    }
    query.after = exchange->query(u"page[after]").value_or(QString());
    query.before = exchange->query(u"page[before]").value_or(QString());
    if (!query.after.isEmpty() && !query.before.isEmpty()) {
        exchange->respondDetailedError(
            QStringLiteral("Query Error"),
            QStringLiteral("Cannot pass both page[after] and page[before] on the "
                           "same request"),
            QStringLiteral("page[before]"));
        return;
    }
    query.types = listParam(*exchange, QStringLiteral("filter[type]"));
    query.tags = listParam(*exchange, QStringLiteral("filter[tags]"));
    query.taskIdentifiers = listParam(*exchange, QStringLiteral("filter[taskIdentifier]"));
    if (const auto ext = exchange->query(u"filter[externalId]"); ext && !ext->isEmpty())
        query.externalId = *ext;
    for (const QString &s : listParam(*exchange, QStringLiteral("filter[status]"))) {
        if (s == u"ACTIVE")
            query.statuses << SessionStatus::Active;
        else if (s == u"CLOSED")
            query.statuses << SessionStatus::Closed;
        else if (s == u"EXPIRED")
            query.statuses << SessionStatus::Expired;
        else {
            exchange->respondDetailedError(
                QStringLiteral("Query Error"),
                QStringLiteral("Invalid enum value. Expected 'ACTIVE' | 'CLOSED' | "
                               "'EXPIRED', received '%1'")
                    .arg(s),
                QStringLiteral("filter[status]"));
            return;
        }
    }
    if (const auto period = exchange->query(u"filter[createdAt][period]");
        period && !period->isEmpty())
        query.periodMs =
            parseDurationMs(*period); // unparsable periods are ignored, as in the webapp
    for (const auto &[key, target] :
         {std::pair{QStringLiteral("filter[createdAt][from]"), &query.fromMs},
          std::pair{QStringLiteral("filter[createdAt][to]"), &query.toMs}}) {
        const auto text = exchange->query(key);
        if (!text)
            continue;
        const auto n = coerceInt(*text);
        if (!n) {
            exchange->respondDetailedError(QStringLiteral("Query Error"),
                                           QStringLiteral("Expected integer (ms since the epoch)"),
                                           key);
            return;
        }
        // The webapp treats 0 as "not given".
        if (*n != 0)
            *target = *n;
    }

    const QList<ScopeResource> broad = {{QStringLiteral("sessions"), QString()},
                                        {QStringLiteral("tasks"), QString()}};
    bool allowed = false;
    if (query.taskIdentifiers.isEmpty()) {
        allowed = auth.canAny(u"read", broad);
    } else {
        QList<ScopeResource> tasks;
        for (const QString &t : query.taskIdentifiers)
            tasks.append({QStringLiteral("tasks"), t});
        allowed = auth.canEvery(u"read", tasks, broad);
    }
    if (!allowed) {
        exchange->respondForbidden();
        return;
    }

    auto page = m_ctx.sessions.listSessions(query);
    if (!page) {
        respondServiceError(exchange, page.error());
        return;
    }
    Json data = Json::array();
    for (const SessionRow &row : page->rows)
        data.push_back(sessionJson(row, false));
    Json pagination = Json::object();
    if (!page->next.isEmpty())
        pagination["next"] = page->next.toStdString();
    if (!page->previous.isEmpty())
        pagination["previous"] = page->previous.toStdString();
    Json out = Json::object();
    out["data"] = data;
    out["pagination"] = pagination;
    exchange->respondJson(200, out);
}

std::optional<SessionRow> SessionsRoutes::loadForRead(const HttpExchange::Ptr &exchange,
                                                      const AuthContext &auth, const QString &key)
{
    auto found = m_ctx.sessions.findSession(key);
    if (!found) {
        respondServiceError(exchange, found.error());
        return std::nullopt;
    }
    if (!found->has_value()) {
        // Loader routes look the resource up before checking scopes.
        exchange->respondError(404, QStringLiteral("Not found"), {{"x-should-retry", "false"}});
        return std::nullopt;
    }
    if (!auth.canAny(u"read", sessionResources(**found))) {
        exchange->respondForbidden();
        return std::nullopt;
    }
    return **found;
}

std::optional<SessionRow> SessionsRoutes::validatedForAdmin(const HttpExchange::Ptr &exchange,
                                                            const AuthContext &auth,
                                                            const QString &key,
                                                            const BodyValidator &validator)
{
    if (!validator.ok()) {
        exchange->respondError(400, validator.message());
        return std::nullopt;
    }
    // Action routes check the (URL-keyed) scope before looking the session up.
    if (!auth.can(u"admin", {QStringLiteral("sessions"), key})) {
        exchange->respondForbidden();
        return std::nullopt;
    }
    auto session = m_ctx.sessions.session(key);
    if (!session) {
        if (session.error().httpStatus == 404)
            exchange->respondError(404, QStringLiteral("Session not found"));
        else
            respondServiceError(exchange, session.error());
        return std::nullopt;
    }
    return *session;
}

void SessionsRoutes::retrieve(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                              const QString &key)
{
    if (const auto session = loadForRead(exchange, auth, key))
        exchange->respondJson(200, sessionJson(*session, true));
}

SessionsRoutes::UpdateBody SessionsRoutes::readUpdateBody(BodyValidator &v, const Json &root)
{
    UpdateBody out;
    out.patch.tags = v.stringArray(root, "tags", QStringLiteral("tags"), 10, 128);
    if (v.has(root, "metadata")) {
        if (v.object(root, "metadata", QStringLiteral("metadata"), false, true))
            out.patch.metadata = std::optional<QByteArray>(wirejson::dump(root["metadata"]));
        else if (root["metadata"].is_null())
            out.patch.metadata = std::optional<QByteArray>();
    }
    // undefined: leave it; null: clear it; a string: set it (trimmed).
    if (v.has(root, "externalId")) {
        if (root["externalId"].is_null()) {
            out.externalId = std::optional<QString>();
        } else if (auto s = v.string(root, "externalId", QStringLiteral("externalId"), false, 1,
                                     256, true)) {
            if (s->startsWith(QLatin1String("session_")))
                v.fail(QStringLiteral("externalId"), kReservedPrefix);
            out.externalId = std::optional<QString>(*s);
        }
    }
    return out;
}

void SessionsRoutes::update(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                            const QString &key)
{
    const auto body = exchange->readJsonBody(kSessionBodyMax);
    if (!body)
        return;
    BodyValidator v(*body);
    const auto [patch, externalId] = readUpdateBody(v, *body);
    const auto session = validatedForAdmin(exchange, auth, key, v);
    if (!session)
        return;
    // The externalId keys the streams and the token scopes: re-keying would
    // orphan them. Setting the same value again is fine.
    if (externalId && *externalId != session->externalId) {
        exchange->respondError(
            422, QStringLiteral("externalId cannot be changed after creation; close this session "
                                "and create a new one with the desired externalId"));
        return;
    }
    auto updated = m_ctx.sessions.updateSession(*session, patch);
    if (!updated) {
        respondServiceError(exchange, updated.error());
        return;
    }
    exchange->respondJson(200, sessionJson(*updated, true));
}

std::optional<QString> SessionsRoutes::readCloseBody(BodyValidator &v, const Json &root)
{
    return v.string(root, "reason", QStringLiteral("reason"), false, 0, 256);
}

void SessionsRoutes::close(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                           const QString &key)
{
    Json root = Json::object();
    // An empty body means "no reason" (the webapp insists on `{}`; curl users
    // should not have to).
    if (!exchange->body().trimmed().isEmpty() || exchange->bodyTooLarge(kSmallBodyMax)) {
        const auto body = exchange->readJsonBody(kSmallBodyMax);
        if (!body)
            return;
        root = *body;
    }
    BodyValidator v(root);
    const auto reason = readCloseBody(v, root);
    const auto session = validatedForAdmin(exchange, auth, key, v);
    if (!session)
        return;
    auto closed = m_ctx.sessions.closeSession(*session, reason);
    if (!closed) {
        respondServiceError(exchange, closed.error());
        return;
    }
    exchange->respondJson(200, sessionJson(*closed, true));
}

void SessionsRoutes::endAndContinue(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                                    const QString &key)
{
    const auto body = exchange->readJsonBody(kSmallBodyMax);
    if (!body)
        return;
    BodyValidator v(*body);
    const auto callingRunId = v.string(*body, "callingRunId", QStringLiteral("callingRunId"), true);
    const auto reason = v.string(*body, "reason", QStringLiteral("reason"), true, 0, 64);
    if (!v.ok()) {
        exchange->respondError(400, v.message());
        return;
    }
    auto found = m_ctx.sessions.findSession(key);
    if (!found) {
        respondServiceError(exchange, found.error());
        return;
    }
    const QList<ScopeResource> resources =
        found->has_value() ? sessionResources(**found, key)
                           : QList<ScopeResource>{{QStringLiteral("sessions"), key}};
    // Action routes check scopes before revealing whether the session exists.
    if (!auth.canAny(u"write", resources)) {
        exchange->respondForbidden();
        return;
    }
    if (!found->has_value()) {
        exchange->respondError(404, QStringLiteral("Resource not found"));
        return;
    }
    auto swapped =
        m_ctx.sessions.endAndContinue(**found, *callingRunId, runReasonFromName(*reason));
    if (!swapped) {
        const Error &e = swapped.error();
        exchange->respondError(e.httpStatus ? e.httpStatus : 500,
                               e.httpStatus && e.httpStatus < 500
                                   ? e.message
                                   : QStringLiteral("Failed to swap session run"));
        return;
    }
    Json out = Json::object();
    out["runId"] = swapped->runId.toStdString();
    out["swapped"] = swapped->swapped;
    exchange->respondJson(200, out);
}

void SessionsRoutes::runs(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                          const QString &key)
{
    const auto session = loadForRead(exchange, auth, key);
    if (!session)
        return;
    auto audit = m_ctx.sessions.sessionRuns(*session);
    if (!audit) {
        respondServiceError(exchange, audit.error());
        return;
    }
    Json data = Json::array();
    for (const SessionRunRow &row : *audit) {
        Json j = Json::object();
        j["id"] = row.id.toStdString();
        j["sessionId"] = row.sessionId.toStdString();
        j["runId"] = row.runId.toStdString();
        j["reason"] = row.reason.toStdString();
        j["triggeredAt"] = wirejson::isoDate(row.triggeredAt).toStdString();
        auto run = m_ctx.sessions.run(row.runId);
        j["run"] = run ? RunsRoutes::runSummaryJson(*run) : Json();
        data.push_back(j);
    }
    Json out = Json::object();
    out["data"] = data;
    exchange->respondJson(200, out);
}

} // namespace sessionscope
