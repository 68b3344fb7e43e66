#include "app/cli/tailcommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/decodecommand.h"
#include "app/cli/jsonlinewriter.h"
#include "app/cli/remoteoptions.h"
#include "app/cli/serverargs.h"
#include "app/cli/tableprinter.h"
#include "app/cli/transcriptcommand.h"
#include "net/chunkbody.h"
#include "net/conversationreducer.h"
#include "net/inappender.h"
#include "net/sessionoutsubscription.h"

#include <QJsonArray>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char TailHelp[] =
    "Usage: sessionscope-cli tail SESSION [--from SEQ] [--raw|--transcript] [--channel out|in]\n"
    "                                     [--until turn-complete|caught-up]\n"
    "\n"
    "Follows a session's .out (or .in) over SSE, resuming after every dropped\n"
    "connection without losing or repeating a record. Prints one JSON line per\n"
    "record, as 'decode' does; --raw prints the records as the server sent them\n"
    "({\"seq_num\",\"timestamp\",\"headers\",\"body\"}); --transcript prints, at the end,\n"
    "the conversation as 'transcript' does (and stops when caught up unless --until\n"
    "says otherwise). --table prints SEQ, KIND, WHAT columns.\n"
    "\n"
    "  --from SEQ            start at this seq (default: the start of the stream)\n"
    "  --until turn-complete stop after the next turn-complete control record\n"
    "  --until caught-up     stop once every record written so far has arrived\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 done, 1 the server refused, 2 usage error, 3 the server could\n"
    "not be reached (after retrying with backoff).\n";

const char StopHelp[] =
    "Usage: sessionscope-cli stop SESSION [--message TEXT]\n"
    "\n"
    "Appends a stop chunk to the session's .in (the agent ends its turn). Retries\n"
    "server errors and dropped connections with the same X-Part-Id, so it lands\n"
    "once. Prints {\"partId\",\"seq\",\"attempts\"}.\n"
    "\n"
    "%1"
    "\n"
    "Exit status: 0 sent, 1 the server refused, 2 usage error, 3 unreachable.\n";

QJsonObject rawRecord(const StreamRecord &r)
{
    QJsonArray headers;
    for (const auto &[name, value] : r.headers)
        headers.append(QJsonArray{QString::fromUtf8(name), QString::fromUtf8(value)});
    return QJsonObject{{QStringLiteral("seq_num"), double(r.seqNum)},
                       {QStringLiteral("timestamp"), double(r.timestamp)},
                       {QStringLiteral("headers"), headers},
                       {QStringLiteral("body"), QString::fromUtf8(r.body)}};
}

QStringList tableRow(const StreamRecord &r, Channel channel)
{
    switch (r.kind) {
    case RecordKind::Data: {
        const auto body = decodeBody(r);
        QString what = body ? QString::fromUtf8(body->chunkType) : QStringLiteral("(undecodable body)");
        if (body && channel == Channel::Out && body->data.contains("delta") && body->data["delta"].is_string())
            what += QLatin1Char(' ') + QString::fromStdString(body->data["delta"].get<std::string>());
        return {QString::number(r.seqNum), QStringLiteral("data"), what};
    }
    case RecordKind::Control: {
        QString what = QString::fromUtf8(r.subtype());
        if (const auto in = r.header("session-in-event-id"))
            what += QStringLiteral(" (in seq %1)").arg(QString::fromUtf8(*in));
        return {QString::number(r.seqNum), QStringLiteral("control"), what};
    }
    case RecordKind::Command:
        return {QString::number(r.seqNum), QStringLiteral("command"), QString::fromUtf8(r.subtype())};
    }
    return {};
}

} // namespace

int runTailCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    int status = ExitOk;
    const auto remote = RemoteOptions::start("tail", TailHelp, args, &status);
    if (!remote)
        return status;
    bool missing = false;
    const auto fromText = takeOption(args, QStringLiteral("--from"), &missing);
    const auto until = takeOption(args, QStringLiteral("--until"), &missing);
    const auto channelText = takeOption(args, QStringLiteral("--channel"), &missing);
    const bool raw = takeFlag(args, QStringLiteral("--raw"));
    const bool transcript = takeFlag(args, QStringLiteral("--transcript"));
    if (missing)
        return usageError("tail", QStringLiteral("an option is missing its value"));
    if (args.size() != 1)
        return usageError("tail", args.isEmpty() ? QStringLiteral("expects SESSION")
                                                 : QStringLiteral("unexpected argument %1").arg(args.at(1)));
    if (raw && transcript)
        return usageError("tail", QStringLiteral("--raw and --transcript exclude each other"));
    if (until && *until != u"turn-complete" && *until != u"caught-up")
        return usageError("tail", QStringLiteral("--until is turn-complete or caught-up, not \"%1\"").arg(*until));
    if (channelText && *channelText != u"out" && *channelText != u"in")
        return usageError("tail", QStringLiteral("--channel is out or in"));
    qint64 from = 0;
    if (fromText) {
        bool ok = false;
        from = fromText->toLongLong(&ok);
        if (!ok || from < 0)
            return usageError("tail", QStringLiteral("--from must be a seq number (0 or more)"));
    }
    const Channel channel = channelText == u"in" ? Channel::In : Channel::Out;
    const bool untilTurn = until == u"turn-complete";
    const bool untilCaughtUp = until == u"caught-up" || (transcript && !until);

    SessionOutSubscription sub(remote->profile, args.first());
    SessionOutSubscription::Options options;
    options.channel = channel;
    options.peekSettled = false; // a tail follows past the end of a turn
    options.maxConsecutiveFailures = 8;
    sub.setOptions(options);

    JsonLineWriter out(stdout, 0);
    if (remote->table && !raw && !transcript)
        std::fprintf(stdout, "%-8s %-8s %s\n", "SEQ", "KIND", "WHAT");
    JsonLineWriter err(stderr);
    ConversationReducer reducer;
    qint64 records = 0;
    qint64 commands = 0;
    bool recordErrors = false;
    QObject context;
    status = runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            QObject::connect(&sub, &SessionOutSubscription::recordsReceived, &context,
                             [&, finish](const QList<StreamRecord> &batch) {
                                 for (const StreamRecord &r : batch) {
                                     ++records;
                                     if (r.kind == RecordKind::Command)
                                         ++commands;
                                     if (transcript) {
                                         reducer.apply(r, channel);
                                     } else if (raw) {
                                         printJson(rawRecord(r));
                                     } else if (remote->table) {
                                         const QStringList row = tableRow(r, channel);
                                         std::fprintf(stdout, "%-8s %-8s %s\n", qPrintable(row[0]), qPrintable(row[1]),
                                                      qPrintable(row[2]));
                                     } else if (const auto error = writeRecordLine(out, r)) {
                                         err.writeError(*error);
                                         recordErrors = true;
                                     }
                                     if (untilTurn && r.kind == RecordKind::Control && r.subtype() == "turn-complete") {
                                         sub.stop();
                                         finish(ExitOk);
                                         return;
                                     }
                                 }
                                 std::fflush(stdout);
                             });
            QObject::connect(&sub, &SessionOutSubscription::caughtUp, &context, [&, finish] {
                if (untilCaughtUp) {
                    sub.stop();
                    finish(ExitOk);
                }
            });
            QObject::connect(&sub, &SessionOutSubscription::streamError, &context, [&](const Error &e) {
                err.writeError(e);
                recordErrors = true;
            });
            QObject::connect(&sub, &SessionOutSubscription::backingOff, &context,
                             [&](const QDateTime &next, const Error &reason) {
                                 err.writeWarning(QStringLiteral("%1; reconnecting at %2")
                                                      .arg(reason.message, next.toLocalTime().toString(Qt::ISODateWithMs)));
                             });
            QObject::connect(&sub, &SessionOutSubscription::failed, &context,
                             [finish](const Error &e) { finish(reportFailure(e)); });
            sub.start(from - 1);
        },
        // A tail without --until follows for as long as the user lets it.
        std::chrono::hours(24 * 365), ExitOk);
    if (transcript) {
        for (const Error &e : reducer.takeErrors()) {
            err.writeError(e);
            recordErrors = true;
        }
        const std::string text = transcriptText(reducer, sub.lastSeq(), records, commands);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    if (status == ExitOk && recordErrors)
        return ExitInputErrors;
    return status;
}

int runStopCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    int status = ExitOk;
    const auto remote = RemoteOptions::start("stop", StopHelp, args, &status);
    if (!remote)
        return status;
    bool missing = false;
    const auto message = takeOption(args, QStringLiteral("--message"), &missing);
    if (missing)
        return usageError("stop", QStringLiteral("--message needs a value"));
    if (args.size() != 1)
        return usageError("stop", QStringLiteral("expects SESSION"));
    InAppender appender(remote->profile, args.first());
    appender.setRetryLimits(6, 60s);
    QObject context;
    return runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            appender.sendStop(message.value_or(QString()), &context, [&, finish](Result<InAppendResult> r) {
                if (!r) {
                    finish(reportFailure(r.error()));
                    return;
                }
                if (remote->table) {
                    TablePrinter t({QStringLiteral("PART ID"), QStringLiteral("SEQ"), QStringLiteral("ATTEMPTS")});
                    t.addRow({r->partId, QString::number(r->seq), QString::number(r->attempts)});
                    t.print(stdout);
                } else {
                    printJson(QJsonObject{{QStringLiteral("partId"), r->partId},
                                          {QStringLiteral("seq"), double(r->seq)},
                                          {QStringLiteral("attempts"), r->attempts}});
                }
                finish(ExitOk);
            });
        },
        120s, ExitNetwork);
}

} // namespace sessionscope
