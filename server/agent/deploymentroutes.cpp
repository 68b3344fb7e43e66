#include "server/agent/deploymentroutes.h"

#include "server/agent/builtinversions.h"
#include "server/agent/deploymentregistry.h"
#include "server/apiauth.h"
#include "server/httprouter.h"

#include <QJsonObject>

namespace sessionscope {

DeploymentRoutes::DeploymentRoutes(DeploymentRegistry &registry) : m_registry(&registry) {}

void DeploymentRoutes::registerRoutes(HttpRouter &router)
{
    router.addRoute({QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("deployments")},
                    {HttpRouter::Method::Get, HttpRouter::Method::Post},
                    [this](const HttpExchange::Ptr &e, const AuthContext &auth, const QStringList &) {
                        if (!m_registry) {
                            e->respondError(503, QStringLiteral("The agent runtime is not running"));
                            return;
                        }
                        if (e->method() == HttpRouter::Method::Post)
                            deploy(e, auth);
                        else
                            list(e, auth);
                    });
}

Json DeploymentRoutes::versionJson(const AgentVersion &version, bool isLatest)
{
    Json j = wirejson::fromQt(version.toJson());
    j["isLatest"] = isLatest;
    return j;
}

void DeploymentRoutes::deploy(const HttpExchange::Ptr &exchange, const AuthContext &auth)
{
    if (!auth.isSecretKey()) {
        exchange->respondError(403, QStringLiteral("Deploying requires secret key authentication"));
        return;
    }
    const auto body = exchange->readJsonBody(MaxBodyBytes);
    if (!body)
        return;
    if (!body->is_object()) {
        exchange->respondError(400, QStringLiteral("The body must be a JSON object"));
        return;
    }
    const QJsonObject root = wirejson::toQt(*body);
    const QJsonValue task = root.value(QLatin1String("task"));
    if (!task.isUndefined() && !task.isString()) {
        exchange->respondError(422, QStringLiteral("task must be a string"));
        return;
    }

    Result<AgentVersion> deployed = Error::make(QString());
    if (root.contains(QLatin1String("builtin"))) {
        const QJsonValue name = root.value(QLatin1String("builtin"));
        if (!name.isString() || root.size() > 2 || (root.size() == 2 && task.isUndefined())) {
            exchange->respondError(422, QStringLiteral("A built-in deploy is {\"task\", \"builtin\": name} and nothing else"));
            return;
        }
        deployed = m_registry->deployBuiltin(task.toString(QLatin1String(BuiltinVersions::ChatAgentTask)), name.toString());
    } else {
        QJsonObject file = root;
        if (root.contains(QLatin1String("version"))) {
            if (!root.value(QLatin1String("version")).isObject() || root.size() > 2
                || (root.size() == 2 && task.isUndefined())) {
                exchange->respondError(422, QStringLiteral("A version deploy is {\"task\", \"version\": {...}}"));
                return;
            }
            file = root.value(QLatin1String("version")).toObject();
            const QString inner = file.value(QLatin1String("task")).toString();
            if (!task.isUndefined() && !inner.isEmpty() && inner != task.toString()) {
                exchange->respondError(422, QStringLiteral("task and version.task disagree"));
                return;
            }
            if (!task.isUndefined())
                file.insert(QStringLiteral("task"), task);
        }
        // The registry stamps these; a file carrying them is from a listing.
        file.remove(QStringLiteral("deployedAt"));
        file.remove(QStringLiteral("isLatest"));
        auto version = AgentVersion::fromJson(file);
        if (!version) {
            exchange->respondError(422, version.error().message);
            return;
        }
        if (version->task.isEmpty()) {
            exchange->respondError(422, QStringLiteral("task is required"));
            return;
        }
        deployed = m_registry->deploy(std::move(version.value()));
    }
    if (!deployed) {
        const int status = deployed.error().httpStatus ? deployed.error().httpStatus : 500;
        exchange->respondError(status, deployed.error().message);
        return;
    }
    Json out = Json::object();
    out["deployment"] = versionJson(*deployed, true);
    out["isLatest"] = true;
    exchange->respondJson(201, out);
}

void DeploymentRoutes::list(const HttpExchange::Ptr &exchange, const AuthContext &auth)
{
    if (!auth.isSecretKey()) {
        exchange->respondError(403, QStringLiteral("Listing deployments requires secret key authentication"));
        return;
    }
    const QString task = exchange->query(u"task").value_or(exchange->query(u"filter[task]").value_or(QString()));
    Json data = Json::array();
    for (const AgentVersion &v : m_registry->versions(task)) {
        const auto latest = m_registry->latest(v.task);
        data.push_back(versionJson(v, latest && latest->label == v.label));
    }
    Json builtins = Json::array();
    const QString builtinTask = QLatin1String(BuiltinVersions::ChatAgentTask);
    if (task.isEmpty() || task == builtinTask) {
        for (const QString &name : BuiltinVersions::names()) {
            const auto v = BuiltinVersions::find(builtinTask, name);
            Json b = wirejson::fromQt(v->toJson());
            b["name"] = name.toStdString();
            builtins.push_back(b);
        }
    }
    Json out = Json::object();
    out["data"] = data;
    out["builtins"] = builtins;
    exchange->respondJson(200, out);
}

} // namespace sessionscope
