#pragma once

#include "server/httpexchange.h"

#include <QPointer>

namespace sessionscope {

struct AuthContext;
class DeploymentRegistry;
class HttpRouter;
struct AgentVersion;

// Our extension API for agent versions (no Trigger.dev counterpart; secret
// key only, as deploying is):
//   POST /api/v1/deployments   {"task", "builtin": "next"}
//                              {"task", "version": {...version file...}}
//                              or the version file itself with "task" in it
//                              -> 201 {"deployment": version, "isLatest": true}
//   GET  /api/v1/deployments[?task=T]
//                              -> {"data": [version + isLatest...],
//                                  "builtins": [{"task", "name", "description", ...}]}
class DeploymentRoutes
{
public:
    static constexpr qint64 MaxBodyBytes = 512 * 1024;

    explicit DeploymentRoutes(DeploymentRegistry &registry);

    void registerRoutes(HttpRouter &router);

    // The JSON of one deployed version as the routes show it.
    static Json versionJson(const AgentVersion &version, bool isLatest);

private:
    void deploy(const HttpExchange::Ptr &exchange, const AuthContext &auth);
    void list(const HttpExchange::Ptr &exchange, const AuthContext &auth);

    // The runtime (and its registry) goes away when the server stops while
    // the router may still hold these routes.
    QPointer<DeploymentRegistry> m_registry;
};

} // namespace sessionscope
