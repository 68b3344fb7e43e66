#pragma once

#include <QString>
#include <QStringList>

#include <optional>

namespace sessionscope {

// Exit statuses every verb uses.
enum ExitStatus : int {
    ExitOk = 0,
    ExitInputErrors = 1, // the input (or the server) had errors; see stderr
    ExitUsage = 2,
    ExitNetwork = 3, // remote verbs: the server could not be reached
};

// One verb of sessionscope-cli. `run` gets the arguments after the verb name.
struct CliVerb
{
    const char *name;
    const char *synopsis; // e.g. "decode FILE|-"
    const char *summary;  // one line for the overview
    int (*run)(const QStringList &args);
};

// What the verbs reading a capture share: one FILE|- argument and options.
struct CaptureArgs
{
    QString path; // "-" for stdin
    std::optional<QString> channel; // "in" / "out"; nullopt: from the bodies
    bool help = false;
};

// Parses `FILE|- [--channel in|out] [--help]`; on a usage error prints it to
// stderr and returns nullopt. `withChannel` says whether --channel is allowed.
std::optional<CaptureArgs> parseCaptureArgs(const char *verb, const QStringList &args, bool withChannel);

class CaptureReader;

// What every verb reading a capture does first: parse the arguments, answer
// --help with `help`, open the capture. Returns the exit status when the verb
// is done already (help, a usage error, a file that cannot be opened).
std::optional<int> startCaptureVerb(const char *verb, const char *help, bool withChannel,
                                    const QStringList &args, CaptureArgs &parsed, CaptureReader &reader);

// Prints "sessionscope-cli VERB: MESSAGE" and a hint to stderr; returns ExitUsage.
int usageError(const char *verb, const QString &message);

} // namespace sessionscope
