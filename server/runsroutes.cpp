#include "server/runsroutes.h"

#include "server/sessionservice.h"

#include <QDateTime>

namespace sessionscope {

namespace {

Json optionalDate(const std::optional<qint64> &ms)
{
    return ms ? Json(wirejson::isoDate(*ms).toStdString()) : Json();
}

} // namespace

RunsRoutes::RunsRoutes(RouteContext context) : m_ctx(context) {}

void RunsRoutes::registerRoutes(HttpRouter &router)
{
    router.addRoute(
        {QStringLiteral("api"), QStringLiteral("v3"), QStringLiteral("runs"), QStringLiteral("{}")},
        {HttpRouter::Method::Get},
        [this](const HttpExchange::Ptr &e, const AuthContext &auth, const QStringList &p) {
            retrieve(e, auth, p.at(0));
        });
}

Json RunsRoutes::runJson(const RunRow &run, qint64 nowMs)
{
    const QString &s = run.status;
    Json j = Json::object();
    j["id"] = run.id.toStdString();
    j["status"] = s.toStdString();
    j["taskIdentifier"] = run.taskIdentifier.toStdString();
    j["version"] = run.version.toStdString();
    j["isQueued"] = s == u"QUEUED" || s == u"PENDING_VERSION" || s == u"DELAYED";
    j["isExecuting"] = s == u"EXECUTING" || s == u"DEQUEUED";
    j["isWaiting"] = s == u"WAITING";
    j["isCompleted"] = run.isFinal();
    j["isSuccess"] = s == u"COMPLETED";
    j["isFailed"] = s == u"FAILED" || s == u"CRASHED" || s == u"SYSTEM_FAILURE" ||
                    s == u"EXPIRED" || s == u"TIMED_OUT";
    j["isCancelled"] = s == u"CANCELED";
    j["isTest"] = false;
    j["createdAt"] = wirejson::isoDate(run.createdAt).toStdString();
    j["updatedAt"] = wirejson::isoDate(run.updatedAt).toStdString();
    if (run.startedAt)
        j["startedAt"] = wirejson::isoDate(*run.startedAt).toStdString();
    if (run.finishedAt)
        j["finishedAt"] = wirejson::isoDate(*run.finishedAt).toStdString();
    j["tags"] = wirejson::stringArray(run.tags);
    j["costInCents"] = 0;
    j["baseCostInCents"] = 0;
    qint64 duration = 0;
    if (run.startedAt)
        duration = qMax<qint64>(0, run.finishedAt.value_or(nowMs) - *run.startedAt);
    j["durationMs"] = duration;
    if (run.metadata) {
        if (auto m = wirejson::parse(*run.metadata); m && m->is_object())
            j["metadata"] = *m;
    }
    j["depth"] = 0;
    j["triggerFunction"] = "trigger";
    j["payload"] = wirejson::parse(run.payload).value_or(Json::object());
    j["relatedRuns"] = Json::object();
    j["attemptCount"] = run.startedAt ? 1 : 0;
    return j;
}

Json RunsRoutes::runSummaryJson(const RunRow &run)
{
    Json j = Json::object();
    j["id"] = run.id.toStdString();
    j["status"] = run.status.toStdString();
    j["version"] = run.version.toStdString();
    j["createdAt"] = wirejson::isoDate(run.createdAt).toStdString();
    j["updatedAt"] = wirejson::isoDate(run.updatedAt).toStdString();
    j["startedAt"] = optionalDate(run.startedAt);
    j["finishedAt"] = optionalDate(run.finishedAt);
    return j;
}

void RunsRoutes::retrieve(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                          const QString &runId)
{
    auto run = m_ctx.sessions.run(runId);
    if (!run) {
        if (run.error().httpStatus == 404)
            exchange->respondError(404, QStringLiteral("Not found"), {{"x-should-retry", "true"}});
        else
            exchange->respondError(500, QStringLiteral("Internal Server Error"));
        return;
    }
    QList<ScopeResource> resources{{QStringLiteral("runs"), run->id},
                                   {QStringLiteral("tasks"), run->taskIdentifier}};
    for (const QString &tag : run->tags)
        resources.append({QStringLiteral("tags"), tag});
    if (!auth.canAny(u"read", resources)) {
        exchange->respondForbidden();
        return;
    }
    exchange->respondJson(200, runJson(*run, QDateTime::currentMSecsSinceEpoch()));
}

} // namespace sessionscope
