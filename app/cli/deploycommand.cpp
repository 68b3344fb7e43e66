#include "app/cli/deploycommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/jsonlinewriter.h"
#include "app/cli/remoteoptions.h"
#include "app/cli/serverargs.h"
#include "app/cli/tableprinter.h"
#include "net/resttransport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char DeployHelp[] =
    "Usage: sessionscope-cli deploy --task TASK (--next | --builtin NAME | --file FILE) [--label LABEL]\n"
    "\n"
    "Deploys an agent version on sessionscope-server (our extension API,\n"
    "POST /api/v1/deployments). Running runs keep their version; new runs and\n"
    "upgrades start on the latest one.\n"
    "  --next                deploy the built-in next version of chat-agent (supports v2, v3)\n"
    "  --builtin NAME        deploy a built-in version by name (current, next)\n"
    "  --file FILE           deploy the version described in FILE (JSON; - for stdin):\n"
    "                        {\"supportedProtocolVersions\": [\"v2\"], \"appVersionPolicy\": \"ignore\"|\"pin-first\",\n"
    "                         \"clientDataSchema\": {\"userId\": \"string\"}, \"reply\": {\"mode\": \"echo\"|\"fixed\"|\"scripted\",\n"
    "                         \"text\", \"script\": [...], \"chunksPerSecond\": 30, \"reasoning\": true,\n"
    "                         \"tool\": {\"name\", \"input\", \"output\", \"needsApproval\"}},\n"
    "                         \"idleTimeoutInSeconds\": 30, \"upgradeFrom\": \"turn-start\"|\"in-run\"}\n"
    "  --label LABEL         the version label (default: the next YYYYMMDD.N)\n"
    "\n"
    "%1"
    "\n"
    "Prints the deployed version as one JSON line.\n"
    "Exit status: 0 deployed, 1 the server refused it, 2 usage error, 3 unreachable.\n";

const char DeploymentsHelp[] =
    "Usage: sessionscope-cli deployments [--task TASK]\n"
    "\n"
    "Lists the deployed agent versions (GET /api/v1/deployments), one JSON line\n"
    "each, oldest first; the latest of each task has \"isLatest\":true.\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 listed, 1 the server refused, 2 usage error, 3 unreachable.\n";

// Sends one request and returns the JSON object of a 2xx answer, or prints
// the server's error as a JSON line on stderr.
std::optional<QJsonObject> call(const RemoteOptions &server, QByteArray verb, const QueryItems &query,
                                const QByteArray &body, int *status)
{
    RestTransport transport;
    transport.setBearer(server.profile.secretKey);
    HttpRequest request;
    request.verb = std::move(verb);
    request.url = server.profile.url(EndpointFamily::Sessions, {QStringLiteral("api"), QStringLiteral("v1"),
                                                                QStringLiteral("deployments")},
                                     query);
    request.body = body;
    request.idempotent = request.verb == "GET";
    std::optional<QJsonObject> answer;
    *status = runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            transport.send(request, &transport, [&answer, finish](Result<HttpResponse> r) {
                if (!r) {
                    finish(reportFailure(r.error()));
                    return;
                }
                auto object = r->jsonObject();
                if (!object) {
                    finish(reportFailure(object.error()));
                    return;
                }
                answer = object.value();
                finish(ExitOk);
            });
        },
        60s, ExitNetwork);
    return *status == ExitOk ? answer : std::nullopt;
}

const std::initializer_list<const char *> kVersionKeys = {"task", "label", "isLatest", "supportedProtocolVersions",
                                                         "appVersionPolicy", "upgradeFrom", "builtin", "deployedAt"};

} // namespace

int runDeployCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    int status = ExitOk;
    const auto server = RemoteOptions::start("deploy", DeployHelp, args, &status);
    if (!server)
        return status;
    bool missing = false;
    const auto task = takeOption(args, QStringLiteral("--task"), &missing);
    const auto builtin = takeOption(args, QStringLiteral("--builtin"), &missing);
    const auto file = takeOption(args, QStringLiteral("--file"), &missing);
    const auto label = takeOption(args, QStringLiteral("--label"), &missing);
    const bool next = takeFlag(args, QStringLiteral("--next"));
    if (missing)
        return usageError("deploy", QStringLiteral("an option is missing its value"));
    if (!args.isEmpty())
        return usageError("deploy", QStringLiteral("unexpected argument %1").arg(args.first()));
    if (!task || task->isEmpty())
        return usageError("deploy", QStringLiteral("--task is required"));
    if (int(next) + int(builtin.has_value()) + int(file.has_value()) != 1)
        return usageError("deploy", QStringLiteral("give exactly one of --next, --builtin NAME, --file FILE"));

    QJsonObject body{{QStringLiteral("task"), *task}};
    if (next || builtin) {
        if (label)
            return usageError("deploy", QStringLiteral("--label applies to --file only (built-ins get the next label)"));
        body.insert(QStringLiteral("builtin"), next ? QStringLiteral("next") : *builtin);
    } else {
        QFile in(*file);
        const bool opened = *file == u"-" ? in.open(stdin, QIODevice::ReadOnly) : in.open(QIODevice::ReadOnly);
        if (!opened) {
            JsonLineWriter(stderr).writeError(Error::make(QStringLiteral("cannot read %1: %2").arg(*file, in.errorString())));
            return ExitInputErrors;
        }
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(in.readAll(), &parseError);
        if (!doc.isObject()) {
            JsonLineWriter(stderr).writeError(
                Error::make(QStringLiteral("%1 is not a JSON object: %2").arg(*file, parseError.errorString())));
            return ExitInputErrors;
        }
        QJsonObject version = doc.object();
        if (label)
            version.insert(QStringLiteral("label"), *label);
        body.insert(QStringLiteral("version"), version);
    }
    const auto answer = call(*server, "POST", {}, QJsonDocument(body).toJson(QJsonDocument::Compact), &status);
    if (!answer)
        return status;
    printJsonLine(answer->value(QLatin1String("deployment")).toObject(), kVersionKeys);
    return ExitOk;
}

int runDeploymentsCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    int status = ExitOk;
    const auto server = RemoteOptions::start("deployments", DeploymentsHelp, args, &status);
    if (!server)
        return status;
    bool missing = false;
    const auto task = takeOption(args, QStringLiteral("--task"), &missing);
    if (missing)
        return usageError("deployments", QStringLiteral("--task needs a value"));
    if (!args.isEmpty())
        return usageError("deployments", QStringLiteral("unexpected argument %1").arg(args.first()));
    QueryItems query;
    if (task)
        query.append({QStringLiteral("task"), *task});
    const auto answer = call(*server, "GET", query, {}, &status);
    if (!answer)
        return status;
    TablePrinter table({QStringLiteral("TASK"), QStringLiteral("LABEL"), QStringLiteral("LATEST"),
                        QStringLiteral("PROTOCOL VERSIONS"), QStringLiteral("APP VERSION"),
                        QStringLiteral("UPGRADE FROM"), QStringLiteral("DEPLOYED AT")});
    for (const QJsonValue &v : answer->value(QLatin1String("data")).toArray()) {
        const QJsonObject o = v.toObject();
        if (!server->table) {
            printJsonLine(o, kVersionKeys);
            continue;
        }
        QStringList protocols;
        for (const QJsonValue &p : o.value(QLatin1String("supportedProtocolVersions")).toArray())
            protocols << p.toString();
        table.addRow({o.value(QLatin1String("task")).toString(), o.value(QLatin1String("label")).toString(),
                      o.value(QLatin1String("isLatest")).toBool() ? QStringLiteral("yes") : QString(),
                      protocols.isEmpty() ? QStringLiteral("any") : protocols.join(QLatin1Char(',')),
                      o.value(QLatin1String("appVersionPolicy")).toString(),
                      o.value(QLatin1String("upgradeFrom")).toString(), o.value(QLatin1String("deployedAt")).toString()});
    }
    if (server->table)
        table.print(stdout);
    return ExitOk;
}

} // namespace sessionscope
