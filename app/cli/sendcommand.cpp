#include "app/cli/sendcommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/jsonlinewriter.h"
#include "app/cli/remoteoptions.h"
#include "app/cli/serverargs.h"
#include "app/cli/tableprinter.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char SendHelp[] =
    "Usage: sessionscope-cli send SESSION TEXT [--client-data JSON] [--timeout SECONDS]\n"
    "\n"
    "Appends a submit-message to the session's .in and follows .out until the\n"
    "turn-complete that answers it (session-in-event-id >= the append's seq).\n"
    "Prints one JSON line per .out record written after the send:\n"
    "  {\"seq\":N,\"chunk\":\"text-delta\",\"delta\":\"...\"}   {\"seq\":N,\"control\":\"upgrade-required\"}\n"
    "then {\"answer\":\"...\",\"inSeq\":N,\"runId\":\"...\",\"version\":\"...\"}.\n"
    "--client-data is the message's metadata (default {\"userId\":\"cli\"}).\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 answered, 1 refused or timed out (default 60 s), 2 usage error, 3 unreachable.\n";

const char RunsHelp[] =
    "Usage: sessionscope-cli runs SESSION\n"
    "\n"
    "Prints the session's run history (the SessionRun audit, GET\n"
    "/api/v1/sessions/{id}/runs), oldest first, one JSON line per takeover:\n"
    "  {\"reason\":\"upgrade\",\"runId\":\"...\",\"version\":\"...\",\"status\":\"...\",\"triggeredAt\":\"...\"}\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 listed, 1 the server refused, 2 usage error, 3 unreachable.\n";

void reportError(const Error &error, const std::function<void(int)> &finish)
{
    finish(reportFailure(error));
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

int runSendCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    int remoteStatus = ExitOk;
    const auto server = RemoteOptions::start("send", SendHelp, args, &remoteStatus);
    if (!server)
        return remoteStatus;
    bool missing = false;
    const auto timeoutText = takeOption(args, QStringLiteral("--timeout"), &missing);
    const auto clientDataText = takeOption(args, QStringLiteral("--client-data"), &missing);
    if (missing)
        return usageError("send", QStringLiteral("--timeout and --client-data need a value"));
    std::optional<QJsonObject> clientData = QJsonObject{{QStringLiteral("userId"), QStringLiteral("cli")}};
    if (clientDataText) {
        clientData = parseJsonObjectOption("send", "--client-data", *clientDataText, &remoteStatus);
        if (!clientData)
            return remoteStatus;
    }
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
    int remoteStatus = ExitOk;
    const auto server = RemoteOptions::start("runs", RunsHelp, args, &remoteStatus);
    if (!server)
        return remoteStatus;
    if (args.size() != 1)
        return usageError("runs", QStringLiteral("expects SESSION"));
    SessionsClient client(server->profile);
    QObject context;
    return runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            const bool table = server->table;
            client.listSessionRuns(args.first(), &context, [finish, table](Result<QList<SessionRunEntry>> rows) {
                if (!rows) {
                    reportError(rows.error(), finish);
                    return;
                }
                TablePrinter t({QStringLiteral("REASON"), QStringLiteral("RUN"), QStringLiteral("VERSION"),
                                QStringLiteral("STATUS"), QStringLiteral("TRIGGERED AT")},
                               64);
                for (const SessionRunEntry &row : rows.value()) {
                    const QString at = row.triggeredAt.toString(Qt::ISODateWithMs);
                    const QString version = row.run ? row.run->version : QString();
                    const QString status = row.run ? row.run->status : QString();
                    if (table) {
                        t.addRow({row.reason, row.runId, version, status, at});
                        continue;
                    }
                    QJsonObject line{{QStringLiteral("reason"), row.reason},
                                     {QStringLiteral("runId"), row.runId},
                                     {QStringLiteral("triggeredAt"), at}};
                    if (row.run) {
                        line.insert(QStringLiteral("version"), version);
                        line.insert(QStringLiteral("status"), status);
                    }
                    printJsonLine(line, {"reason", "runId", "version", "status"});
                }
                if (table)
                    t.print(stdout);
                finish(ExitOk);
            });
        },
        60s, ExitNetwork);
}

} // namespace sessionscope
