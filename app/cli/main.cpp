// sessionscope-cli: the terminal client. Verbs are listed in one table; a new
// verb is one entry here plus its own file pair.

#include "app/cli/cliverb.h"
#include "app/cli/decodecommand.h"
#include "app/cli/deploycommand.h"
#include "app/cli/sendcommand.h"
#include "app/cli/profilescommand.h"
#include "app/cli/sessionscommand.h"
#include "app/cli/tailcommand.h"
#include "app/cli/transcriptcommand.h"

#include <QCoreApplication>

#include <cstdio>
#include <cstring>

using namespace sessionscope;

namespace {

const CliVerb Verbs[] = {
    {"decode", "decode FILE|-", "print one JSON line per record of an SSE capture", runDecodeCommand},
    {"transcript", "transcript [--channel in|out] FILE|-",
     "print the conversation an SSE capture holds as one JSON object", runTranscriptCommand},
    {"send", "send SESSION TEXT [--client-data JSON]", "send a message, follow .out to its turn-complete",
     runSendCommand},
    {"runs", "runs SESSION", "print a session's run history and upgrade audit", runRunsCommand},
    {"sessions", "sessions list|get|create|close ...", "list, show, create or close sessions on any backend",
     runSessionsCommand},
    {"tail", "tail SESSION [--from SEQ] [--raw|--transcript]", "follow a session's .out, resuming on every drop",
     runTailCommand},
    {"stop", "stop SESSION [--message TEXT]", "send a stop to a session's .in", runStopCommand},
    {"profiles", "profiles list|add|set-key|default|remove", "manage the named backends --profile picks from",
     runProfilesCommand},
    {"deploy", "deploy --task TASK (--next|--file FILE)", "deploy an agent version on sessionscope-server",
     runDeployCommand},
    {"deployments", "deployments [--task TASK]", "list the deployed agent versions", runDeploymentsCommand},
};

void printHelp(std::FILE *to)
{
    std::fputs("Usage: sessionscope-cli [--help] [--version] VERB [OPTIONS] [ARGS]\n"
               "\n"
               "A terminal client for Trigger.dev chat-agent sessions.\n"
               "\n"
               "Verbs:\n",
               to);
    for (const CliVerb &verb : Verbs)
        std::fprintf(to, "  %-40s %s\n", verb.synopsis, verb.summary);
    std::fputs("\n"
               "Run 'sessionscope-cli VERB --help' for a verb's options.\n"
               "Exit status: 0 success, 1 the input or the server had errors, 2 usage error,\n"
               "3 the server could not be reached.\n",
               to);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sessionscope-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SESSIONSCOPE_VERSION));

    const QStringList args = QCoreApplication::arguments().mid(1);
    if (args.isEmpty()) {
        printHelp(stderr);
        return ExitUsage;
    }
    const QString &first = args.first();
    if (first == u"--help" || first == u"-h" || first == u"help") {
        printHelp(stdout);
        return ExitOk;
    }
    if (first == u"--version" || first == u"-V") {
        std::printf("sessionscope-cli %s\n", SESSIONSCOPE_VERSION);
        return ExitOk;
    }
    for (const CliVerb &verb : Verbs) {
        if (first == QLatin1String(verb.name))
            return verb.run(args.mid(1));
    }
    std::fprintf(stderr, "sessionscope-cli: unknown verb or option \"%s\"\n\n", first.toLocal8Bit().constData());
    printHelp(stderr);
    return ExitUsage;
}
