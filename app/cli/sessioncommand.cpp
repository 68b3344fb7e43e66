#include "app/cli/sessioncommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/jsonlinewriter.h"
#include "app/cli/serverargs.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char SessionHelp[] =
    "Usage: sessionscope-cli session create --task TASK [--external-id ID] [--client-data JSON]\n"
    "                                       [--lock-to-version LABEL] [--idle-timeout SECONDS]\n"
    "\n"
    "Creates a chat.agent session (POST /api/v1/sessions) whose first run preloads:\n"
    "it waits for the first message. --client-data is the basePayload metadata,\n"
    "e.g. '{\"userId\":\"u1\",\"protocolVersion\":\"v1\"}'. Prints one JSON line:\n"
    "  {\"id\",\"externalId\",\"runId\",\"version\",\"isCached\"}\n"
    "%1"
    "\n"
    "Exit status: 0 created, 1 the server refused, 2 usage error.\n";

const char SendHelp[] =
    "Usage: sessionscope-cli send SESSION TEXT [--client-data JSON] [--timeout SECONDS]\n"
    "\n"
    "Appends a submit-message to the session's .in and follows .out until the\n"
    "turn-complete that answers it (session-in-event-id >= the append's seq).\n"
    "Prints one JSON line per .out record written after the send:\n"
    "  {\"seq\":N,\"chunk\":\"text-delta\",\"delta\":\"...\"}   {\"seq\":N,\"control\":\"upgrade-required\"}\n"
    "then {\"answer\":\"...\",\"inSeq\":N,\"runId\":\"...\",\"version\":\"...\"}.\n"
    "--client-data is the message's metadata (default {\"userId\":\"cli\"}).\n"
    "%1"
    "\n"
    "Exit status: 0 answered, 1 failed or timed out (default 60 s), 2 usage error.\n";

const char RunsHelp[] =
    "Usage: sessionscope-cli runs SESSION\n"
    "\n"
    "Prints the session's run history (the SessionRun audit, GET\n"
    "/api/v1/sessions/{id}/runs), oldest first, one JSON line per takeover:\n"
    "  {\"reason\":\"upgrade\",\"runId\":\"...\",\"version\":\"...\",\"status\":\"...\",\"triggeredAt\":\"...\"}\n"
    "%1"
    "\n"
    "Exit status: 0 listed, 1 the server refused, 2 usage error.\n";

bool wantsHelp(QStringList &args)
{
    return takeFlag(args, QStringLiteral("--help")) || takeFlag(args, QStringLiteral("-h"));
}

// --client-data JSON: an object, or nullopt after printing a usage error.
std::optional<QJsonObject> takeClientData(const char *verb, QStringList &args, const QJsonObject &fallback, bool *failed)
{
    bool missing = false;
    const auto text = takeOption(args, QStringLiteral("--client-data"), &missing);
    if (missing) {
        *failed = true;
        usageError(verb, QStringLiteral("--client-data needs a JSON object"));
        return std::nullopt;
    }
    if (!text)
        return fallback;
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text->toUtf8(), &error);
    if (!doc.isObject()) {
        *failed = true;
        usageError(verb, QStringLiteral("--client-data is not a JSON object: %1").arg(error.errorString()));
        return std::nullopt;
    }
    return doc.object();
}

void reportError(const Error &error, const std::function<void(int)> &finish)
{
    JsonLineWriter(stderr).writeError(error);
    finish(ExitInputErrors);
}

// One line per `.out` record, short enough to read while a turn streams.
QJsonObject recordLine(const StreamRecord &record)
{
    QJsonObject line{{QStringLiteral("seq"), double(record.seqNum)}};
    switch (record.kind) {
    case RecordKind::Data: {
        const QJsonObject chunk = QJsonDocument::fromJson(record.body).object().value(QLatin1String("data")).toObject();
        line.insert(QStringLiteral("chunk"), chunk.value(QLatin1String("type")));
        for (const char *key : {"delta", "messageId", "finishReason", "toolName", "errorText"}) {
            if (chunk.contains(QLatin1String(key)))
                line.insert(QLatin1String(key), chunk.value(QLatin1String(key)));
        }
        if (chunk.value(QLatin1String("type")).toString().startsWith(QLatin1String("data-")))
            line.insert(QStringLiteral("data"), chunk.value(QLatin1String("data")));
        break;
    }
    case RecordKind::Control:
        line.insert(QStringLiteral("control"), QString::fromLatin1(record.subtype()));
        if (const auto in = sessionInEventId(record))
            line.insert(QStringLiteral("sessionInEventId"), QString::fromLatin1(*in));
        break;
    case RecordKind::Command:
        line.insert(QStringLiteral("command"), QString::fromLatin1(record.subtype()));
        break;
    }
    return line;
}

// Prints {…, "runId", "version"} for the session's current run, then finishes.
void printWithCurrentRun(SessionsClient &client, const QString &session, QJsonObject line, QObject *context,
                         const std::function<void(int)> &finish)
{
    client.retrieveSession(session, context, [&client, line, context, finish](Result<SessionItem> s) mutable {
        if (!s) {
            reportError(s.error(), finish);
            return;
        }
        const QString runId = s->currentRunId;
        client.retrieveRun(runId, context, [line, runId, finish](Result<RunDetails> run) mutable {
            if (!run) {
                reportError(run.error(), finish);
                return;
            }
            line.insert(QStringLiteral("runId"), runId);
            line.insert(QStringLiteral("version"), run->version);
            line.insert(QStringLiteral("runStatus"), run->status);
            printJsonLine(line, {"answer", "inSeq", "id", "externalId", "runId", "version", "runStatus"});
            finish(ExitOk);
        });
    });
}

} // namespace

int runSessionCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    if (wantsHelp(args)) {
        printServerVerbHelp(SessionHelp);
        return ExitOk;
    }
    if (args.isEmpty() || args.takeFirst() != u"create")
        return usageError("session", QStringLiteral("the only subcommand is create"));
    auto server = ServerArgs::take("session", args);
    if (!server)
        return ExitUsage;
    bool missing = false;
    bool failed = false;
    const auto task = takeOption(args, QStringLiteral("--task"), &missing);
    const auto externalId = takeOption(args, QStringLiteral("--external-id"), &missing);
    const auto lock = takeOption(args, QStringLiteral("--lock-to-version"), &missing);
    const auto idle = takeOption(args, QStringLiteral("--idle-timeout"), &missing);
    const auto clientData = takeClientData("session", args, QJsonObject{{QStringLiteral("userId"), QStringLiteral("cli")}}, &failed);
    if (failed)
        return ExitUsage;
    if (missing)
        return usageError("session", QStringLiteral("an option is missing its value"));
    if (!args.isEmpty())
        return usageError("session", QStringLiteral("unexpected argument %1").arg(args.first()));
    if (!task || task->isEmpty())
        return usageError("session", QStringLiteral("--task is required"));

    CreateSessionRequest request;
    request.taskIdentifier = *task;
    request.externalId = externalId.value_or(QString());
    request.basePayload = QJsonObject{{QStringLiteral("chatId"), request.externalId},
                                      {QStringLiteral("trigger"), QStringLiteral("preload")},
                                      {QStringLiteral("metadata"), *clientData}};
    if (lock)
        request.triggerOptions.insert(QStringLiteral("lockToVersion"), *lock);
    if (idle) {
        bool ok = false;
        const int seconds = idle->toInt(&ok);
        if (!ok || seconds < 1 || seconds > 3600)
            return usageError("session", QStringLiteral("--idle-timeout must be 1..3600 seconds"));
        request.triggerOptions.insert(QStringLiteral("idleTimeoutInSeconds"), seconds);
    }
    if (auto valid = request.validate(); !valid)
        return usageError("session", valid.error().message);

    SessionsClient client(server->profile);
    QObject context;
    return runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            client.createSession(request, &context, [&client, &context, finish](Result<CreatedSession> created) {
                if (!created) {
                    reportError(created.error(), finish);
                    return;
                }
                QJsonObject line{{QStringLiteral("id"), created->session.id},
                                 {QStringLiteral("externalId"), created->session.externalId},
                                 {QStringLiteral("isCached"), created->isCached}};
                printWithCurrentRun(client, created->session.id, line, &context, finish);
            });
        },
        60s, ExitInputErrors);
}

int runSendCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    if (wantsHelp(args)) {
        printServerVerbHelp(SendHelp);
        return ExitOk;
    }
    auto server = ServerArgs::take("send", args);
    if (!server)
        return ExitUsage;
    bool missing = false;
    bool failed = false;
    const auto timeoutText = takeOption(args, QStringLiteral("--timeout"), &missing);
    const auto clientData = takeClientData("send", args, QJsonObject{{QStringLiteral("userId"), QStringLiteral("cli")}}, &failed);
    if (failed)
        return ExitUsage;
    if (missing)
        return usageError("send", QStringLiteral("--timeout needs a value"));
    if (args.size() != 2)
        return usageError("send", QStringLiteral("expects SESSION and TEXT"));
    int timeoutSeconds = 60;
    if (timeoutText) {
        bool ok = false;
        timeoutSeconds = timeoutText->toInt(&ok);
        if (!ok || timeoutSeconds < 1)
            return usageError("send", QStringLiteral("--timeout must be a positive number of seconds"));
    }
    const QString session = args.at(0);
    const QString text = args.at(1);

    SessionsClient client(server->profile);
    SessionOutSubscription out(server->profile, session);
    SessionOutSubscription::Options options;
    options.timeoutSeconds = 600;
    options.peekSettled = false;
    options.maxConsecutiveFailures = 3;
    out.setOptions(options);
    InAppender appender(server->profile, session);
    QObject context;

    qint64 baseline = -1;
    bool sent = false;
    qint64 inSeq = -1;
    QString answer;
    QList<StreamRecord> early; // records that arrive before the append's seq is known
    const int status = runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            // Is this the turn-complete that answers our record?
            const auto handle = [&, finish](const StreamRecord &r) {
                printJsonLine(recordLine(r), {"seq", "chunk", "control", "command"});
                if (r.kind == RecordKind::Data) {
                    const QJsonObject chunk = QJsonDocument::fromJson(r.body).object().value(QLatin1String("data")).toObject();
                    if (chunk.value(QLatin1String("type")).toString() == QLatin1String("text-delta"))
                        answer += chunk.value(QLatin1String("delta")).toString();
                    else if (chunk.value(QLatin1String("type")).toString() == QLatin1String("start"))
                        answer.clear();
                }
                const auto consumed = sessionInEventId(r);
                if (r.kind == RecordKind::Control && r.subtype() == "turn-complete" && consumed
                    && consumed->toLongLong() >= inSeq) {
                    out.stop();
                    printWithCurrentRun(client, session,
                                        QJsonObject{{QStringLiteral("answer"), answer},
                                                    {QStringLiteral("inSeq"), double(inSeq)}},
                                        &context, finish);
                }
            };
            QObject::connect(&out, &SessionOutSubscription::failed, &context,
                             [finish](const Error &e) { reportError(e, finish); });
            QObject::connect(&out, &SessionOutSubscription::recordsReceived, &context,
                             [&, handle](const QList<StreamRecord> &records) {
                                 for (const StreamRecord &r : records) {
                                     // Before the send it is the backlog of earlier turns.
                                     if (!sent || r.seqNum <= baseline)
                                         continue;
                                     if (inSeq < 0)
                                         early << r;
                                     else
                                         handle(r);
                                 }
                             });
            // Send once caught up, so everything after `baseline` is this turn's.
            QObject::connect(&out, &SessionOutSubscription::caughtUp, &context, [&, handle, finish](qint64 lastSeq) {
                if (sent)
                    return;
                sent = true;
                baseline = lastSeq;
                appender.sendMessage(text, *clientData, &context, [&, handle, finish](Result<InAppendResult> r) {
                    if (!r) {
                        reportError(r.error(), finish);
                        return;
                    }
                    inSeq = r->seq;
                    const QList<StreamRecord> pending = std::exchange(early, {});
                    for (const StreamRecord &record : pending)
                        handle(record);
                });
            });
            out.start();
        },
        std::chrono::seconds(timeoutSeconds), ExitInputErrors);
    if (status != ExitOk && inSeq >= 0 && answer.isEmpty())
        JsonLineWriter(stderr).writeError(Error::make(QStringLiteral("no turn-complete for .in seq %1 within %2 s")
                                                          .arg(inSeq)
                                                          .arg(timeoutSeconds)));
    return status;
}

int runRunsCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    if (wantsHelp(args)) {
        printServerVerbHelp(RunsHelp);
        return ExitOk;
    }
    auto server = ServerArgs::take("runs", args);
    if (!server)
        return ExitUsage;
    if (args.size() != 1)
        return usageError("runs", QStringLiteral("expects SESSION"));
    SessionsClient client(server->profile);
    QObject context;
    return runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            client.listSessionRuns(args.first(), &context, [finish](Result<QList<SessionRunEntry>> rows) {
                if (!rows) {
                    reportError(rows.error(), finish);
                    return;
                }
                for (const SessionRunEntry &row : rows.value()) {
                    QJsonObject line{{QStringLiteral("reason"), row.reason},
                                     {QStringLiteral("runId"), row.runId},
                                     {QStringLiteral("triggeredAt"), row.triggeredAt.toString(Qt::ISODateWithMs)}};
                    if (row.run) {
                        line.insert(QStringLiteral("version"), row.run->version);
                        line.insert(QStringLiteral("status"), row.run->status);
                    }
                    printJsonLine(line, {"reason", "runId", "version", "status"});
                }
                finish(ExitOk);
            });
        },
        60s, ExitInputErrors);
}

} // namespace sessionscope
