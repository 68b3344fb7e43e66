#include "app/cli/cliverb.h"

#include "app/cli/capturereader.h"
#include "app/cli/jsonlinewriter.h"

#include <cstdio>

namespace sessionscope {

int usageError(const char *verb, const QString &message)
{
    std::fprintf(stderr, "sessionscope-cli %s: %s\nRun 'sessionscope-cli %s --help' for usage.\n", verb,
                 message.toLocal8Bit().constData(), verb);
    return ExitUsage;
}

std::optional<CaptureArgs> parseCaptureArgs(const char *verb, const QStringList &args, bool withChannel)
{
    CaptureArgs out;
    QStringList positional;
    bool optionsEnded = false;
    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString &arg = args[i];
        if (optionsEnded || arg == u"-" || !arg.startsWith(u'-')) {
            positional.append(arg);
        } else if (arg == u"--") {
            optionsEnded = true;
        } else if (arg == u"-h" || arg == u"--help") {
            out.help = true;
        } else if (withChannel && (arg == u"--channel" || arg.startsWith(u"--channel="))) {
            QString value;
            if (arg.startsWith(u"--channel=")) {
                value = arg.mid(10);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                usageError(verb, QStringLiteral("--channel needs a value: in or out"));
                return std::nullopt;
            }
            if (value != u"in" && value != u"out") {
                usageError(verb, QStringLiteral("--channel must be in or out, not \"%1\"").arg(value));
                return std::nullopt;
            }
            out.channel = value;
        } else {
            usageError(verb, QStringLiteral("unknown option %1").arg(arg));
            return std::nullopt;
        }
    }
    if (out.help)
        return out;
    if (positional.size() != 1) {
        usageError(verb, positional.isEmpty() ? QStringLiteral("missing FILE (use - for stdin)")
                                              : QStringLiteral("expects one FILE, got %1").arg(positional.size()));
        return std::nullopt;
    }
    out.path = positional.first();
    return out;
}

std::optional<int> startCaptureVerb(const char *verb, const char *help, bool withChannel,
                                    const QStringList &args, CaptureArgs &parsed, CaptureReader &reader)
{
    auto arguments = parseCaptureArgs(verb, args, withChannel);
    if (!arguments)
        return ExitUsage;
    if (arguments->help) {
        std::fputs(help, stdout);
        return ExitOk;
    }
    parsed = *arguments;
    if (const auto opened = reader.open(parsed.path); !opened) {
        JsonLineWriter(stderr).writeError(opened.error());
        return ExitInputErrors;
    }
    return std::nullopt;
}

} // namespace sessionscope
