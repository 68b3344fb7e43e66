#include "app/cli/sessionscommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/remoteoptions.h"
#include "app/cli/serverargs.h"
#include "app/cli/tableprinter.h"
#include "net/redaction.h"
#include "net/sessionsclient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QUuid>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char SessionsHelp[] =
    "Usage: sessionscope-cli sessions list [--status S] [--tag T] [--type T] [--task T] [--limit N]\n"
    "       sessionscope-cli sessions get ID\n"
    "       sessionscope-cli sessions create --task T [--external-id X] [--client-data JSON]\n"
    "                                        [--message TEXT] [--tag T]... [--show-token]\n"
    "       sessionscope-cli sessions close ID [--reason R]\n"
    "\n"
    "list     sessions, newest first, one JSON line each (the API's SessionItem);\n"
    "         --status ACTIVE|CLOSED|EXPIRED, --tag/--type/--task filter (repeatable),\n"
    "         --limit N pages through the server until N sessions (default 20)\n"
    "get      one session by its id or external id\n"
    "create   a chat.agent session; its first run preloads, or answers --message.\n"
    "         --client-data is the agent's clientData (basePayload.metadata).\n"
    "         Without --external-id one is made up (the chat id must equal it).\n"
    "         The public access token is masked unless --show-token.\n"
    "close    closes a session (final); --reason is kept with it\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 ok, 1 the server refused (message on stderr), 2 usage error,\n"
    "3 the server could not be reached.\n";

QString dateText(const QDateTime &dt)
{
    return dt.isValid() ? dt.toString(Qt::ISODate) : QString();
}

void printSessions(const QList<SessionItem> &sessions, bool table)
{
    if (!table) {
        for (const SessionItem &s : sessions)
            printJson(s.raw);
        return;
    }
    TablePrinter t({QStringLiteral("ID"), QStringLiteral("EXTERNAL ID"), QStringLiteral("TASK"),
                    QStringLiteral("STATUS"), QStringLiteral("CURRENT RUN"), QStringLiteral("TAGS"),
                    QStringLiteral("CREATED")});
    for (const SessionItem &s : sessions)
        t.addRow({s.id, s.externalId, s.taskIdentifier, s.status(), s.currentRunId, s.tags.join(QLatin1Char(',')),
                  dateText(s.createdAt)});
    t.print(stdout);
}

void printSessionDetails(const SessionItem &s, bool table)
{
    if (!table) {
        printJson(s.raw);
        return;
    }
    TablePrinter t({QStringLiteral("FIELD"), QStringLiteral("VALUE")}, 100);
    t.addRow({QStringLiteral("id"), s.id});
    t.addRow({QStringLiteral("externalId"), s.externalId});
    t.addRow({QStringLiteral("type"), s.type});
    t.addRow({QStringLiteral("task"), s.taskIdentifier});
    t.addRow({QStringLiteral("status"), s.status()});
    t.addRow({QStringLiteral("currentRunId"), s.currentRunId});
    t.addRow({QStringLiteral("tags"), s.tags.join(QLatin1Char(','))});
    t.addRow({QStringLiteral("metadata"),
              QString::fromUtf8(QJsonDocument(QJsonArray{s.metadata}).toJson(QJsonDocument::Compact)).mid(1).chopped(1)});
    t.addRow({QStringLiteral("closedAt"), dateText(s.closedAt)});
    t.addRow({QStringLiteral("closedReason"), s.closedReason});
    t.addRow({QStringLiteral("expiresAt"), dateText(s.expiresAt)});
    t.addRow({QStringLiteral("createdAt"), dateText(s.createdAt)});
    t.addRow({QStringLiteral("updatedAt"), dateText(s.updatedAt)});
    t.print(stdout);
}

// Runs one asynchronous client call to its end; the callback gets `finish`.
template <typename T, typename Call, typename Done>
int runCall(Call call, Done onResult)
{
    QObject context;
    return runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            call(&context, [finish, onResult](Result<T> r) {
                if (!r) {
                    finish(reportFailure(r.error()));
                    return;
                }
                finish(onResult(std::move(r).value()));
            });
        },
        120s, ExitNetwork);
}

QStringList takeAll(QStringList &args, const QString &name, bool *missing)
{
    QStringList values;
    while (const auto v = takeOption(args, name, missing))
        values.append(*v);
    return values;
}

int listCommand(SessionsClient &client, const RemoteOptions &remote, QStringList &args)
{
    bool missing = false;
    SessionListFilter filter;
    filter.statuses = takeAll(args, QStringLiteral("--status"), &missing);
    filter.tags = takeAll(args, QStringLiteral("--tag"), &missing);
    filter.types = takeAll(args, QStringLiteral("--type"), &missing);
    filter.taskIdentifiers = takeAll(args, QStringLiteral("--task"), &missing);
    const auto limitText = takeOption(args, QStringLiteral("--limit"), &missing);
    if (missing)
        return usageError("sessions", QStringLiteral("an option is missing its value"));
    if (!args.isEmpty())
        return usageError("sessions", QStringLiteral("unexpected argument %1").arg(args.first()));
    int limit = 20;
    if (limitText) {
        bool ok = false;
        limit = limitText->toInt(&ok);
        if (!ok || limit < 1)
            return usageError("sessions", QStringLiteral("--limit must be a positive number"));
    }
    if (auto valid = filter.validate(); !valid)
        return usageError("sessions", valid.error().message);

    // Pages of up to 100 until the limit or the last page.
    QList<SessionItem> all;
    QObject context;
    std::function<void()> nextPage;
    const int status = runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            nextPage = [&, finish] {
                filter.pageSize = qMin(100, limit - int(all.size()));
                client.listSessions(filter, &context, [&, finish](Result<SessionListPage> page) {
                    if (!page) {
                        finish(reportFailure(page.error()));
                        return;
                    }
                    all += page->sessions;
                    if (page->nextCursor.isEmpty() || all.size() >= limit || page->sessions.isEmpty()) {
                        finish(ExitOk);
                        return;
                    }
                    filter.after = page->nextCursor;
                    nextPage();
                });
            };
            nextPage();
        },
        300s, ExitNetwork);
    if (status == ExitOk)
        printSessions(all.mid(0, limit), remote.table);
    return status;
}

int createCommand(SessionsClient &client, const RemoteOptions &remote, QStringList &args)
{
    bool missing = false;
    int status = ExitOk;
    const auto task = takeOption(args, QStringLiteral("--task"), &missing);
    const auto externalId = takeOption(args, QStringLiteral("--external-id"), &missing);
    const auto clientDataText = takeOption(args, QStringLiteral("--client-data"), &missing);
    const auto message = takeOption(args, QStringLiteral("--message"), &missing);
    const QStringList tags = takeAll(args, QStringLiteral("--tag"), &missing);
    const bool showToken = takeFlag(args, QStringLiteral("--show-token"));
    if (missing)
        return usageError("sessions", QStringLiteral("an option is missing its value"));
    if (!args.isEmpty())
        return usageError("sessions", QStringLiteral("unexpected argument %1").arg(args.first()));
    if (!task || task->trimmed().isEmpty())
        return usageError("sessions", QStringLiteral("create needs --task"));
    QJsonObject clientData;
    if (clientDataText) {
        const auto parsed = parseJsonObjectOption("sessions", "--client-data", *clientDataText, &status);
        if (!parsed)
            return status;
        clientData = *parsed;
    }

    CreateSessionRequest request;
    request.taskIdentifier = *task;
    request.externalId = externalId.value_or(QStringLiteral("cli-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
    request.tags = tags;
    QJsonObject payload{{QStringLiteral("chatId"), request.externalId},
                        {QStringLiteral("trigger"), message ? QStringLiteral("submit-message") : QStringLiteral("preload")}};
    if (!clientData.isEmpty())
        payload.insert(QStringLiteral("metadata"), clientData);
    if (message) {
        const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
        payload.insert(QStringLiteral("messageId"), id);
        payload.insert(QStringLiteral("message"),
                       QJsonObject{{QStringLiteral("id"), id},
                                   {QStringLiteral("role"), QStringLiteral("user")},
                                   {QStringLiteral("parts"), QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                                                    {QStringLiteral("text"), *message}}}}});
    }
    request.basePayload = payload;
    if (auto valid = request.validate(); !valid)
        return usageError("sessions", valid.error().message);

    return runCall<CreatedSession>(
        [&](QObject *context, ResultCallback<CreatedSession> done) { client.createSession(request, context, done); },
        [&](const CreatedSession &created) {
            const QString token = showToken ? created.publicAccessToken : maskCredential(created.publicAccessToken);
            if (remote.table) {
                printSessionDetails(created.session, true);
                std::fprintf(stdout, "runId        %s\nisCached     %s\ntoken        %s\n",
                             qPrintable(created.runId), created.isCached ? "true" : "false", qPrintable(token));
                return int(ExitOk);
            }
            QJsonObject line = created.session.raw;
            line.insert(QStringLiteral("publicAccessToken"), token);
            printJson(line);
            return int(ExitOk);
        });
}

} // namespace

int runSessionsCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    const QString sub = args.isEmpty() || args.first().startsWith(u'-') ? QString() : args.takeFirst();
    int status = ExitOk;
    const auto remote = RemoteOptions::start("sessions", SessionsHelp, args, &status);
    if (!remote)
        return status;
    if (sub.isEmpty())
        return usageError("sessions", QStringLiteral("expects list, get, create or close"));
    SessionsClient client(remote->profile);

    if (sub == u"list")
        return listCommand(client, *remote, args);
    if (sub == u"create")
        return createCommand(client, *remote, args);
    if (sub == u"get" || sub == u"close") {
        bool missing = false;
        const auto reason = sub == u"close" ? takeOption(args, QStringLiteral("--reason"), &missing) : std::nullopt;
        if (missing)
            return usageError("sessions", QStringLiteral("--reason needs a value"));
        if (args.size() != 1)
            return usageError("sessions", QStringLiteral("%1 expects one session id").arg(sub));
        const QString id = args.first();
        const auto print = [&](const SessionItem &s) {
            printSessionDetails(s, remote->table);
            return int(ExitOk);
        };
        if (sub == u"get")
            return runCall<SessionItem>(
                [&](QObject *context, ResultCallback<SessionItem> done) { client.retrieveSession(id, context, done); },
                print);
        return runCall<SessionItem>(
            [&](QObject *context, ResultCallback<SessionItem> done) {
                client.closeSession(id, reason.value_or(QString()), context, done);
            },
            print);
    }
    return usageError("sessions", QStringLiteral("unknown subcommand \"%1\" (list, get, create, close)").arg(sub));
}

} // namespace sessionscope
