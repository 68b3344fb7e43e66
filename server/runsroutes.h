#pragma once

#include "server/httprouter.h"
#include "server/routecontext.h"
#include "server/sessionstore.h"

namespace sessionscope {

// GET /api/v3/runs/{runId}: the run as the real API's RetrieveRunResponse.
class RunsRoutes
{
public:
    explicit RunsRoutes(RouteContext context);

    void registerRoutes(HttpRouter &router);

    static Json runJson(const RunRow &run, qint64 nowMs);
    // The compact form inside a SessionRun audit row (our extension).
    static Json runSummaryJson(const RunRow &run);

private:
    void retrieve(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &runId);

    RouteContext m_ctx;
};

} // namespace sessionscope
