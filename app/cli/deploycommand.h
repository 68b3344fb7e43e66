#pragma once

#include <QStringList>

namespace sessionscope {

// sessionscope-cli deploy --task T (--next | --builtin NAME | --file FILE) [--label L]
// Deploys an agent version on the embedded server (POST /api/v1/deployments)
// and prints it as one JSON line.
int runDeployCommand(const QStringList &args);

// sessionscope-cli deployments [--task T]
// One JSON line per deployed version, oldest first (GET /api/v1/deployments).
int runDeploymentsCommand(const QStringList &args);

} // namespace sessionscope
