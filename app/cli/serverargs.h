#pragma once

#include "net/connectionprofile.h"

#include <QJsonObject>
#include <QStringList>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>

namespace sessionscope {

// The server a verb talks to: --url URL and --secret-key KEY, else
// $SESSIONSCOPE_URL and $SESSIONSCOPE_SECRET_KEY (the key sessionscope-server
// reads too). The key is never printed.
struct ServerArgs
{
    ConnectionProfile profile;

    static constexpr const char *OptionsHelp =
        "  --url URL             the server (default $SESSIONSCOPE_URL)\n"
        "  --secret-key KEY      its secret key (default $SESSIONSCOPE_SECRET_KEY)\n";

    // Takes the two options out of `args` (the rest is the verb's). Prints a
    // usage error and returns nullopt when one is missing or malformed.
    static std::optional<ServerArgs> take(const char *verb, QStringList &args);
};

// Prints `object` as one JSON line on stdout, the `leading` keys first in
// that order, the others after them.
void printJsonLine(const QJsonObject &object, std::initializer_list<const char *> leading = {});
// Prints a verb's help; its %1 is ServerArgs::OptionsHelp.
void printServerVerbHelp(const char *text);

// Takes `--name VALUE` or `--name=VALUE` out of args. nullopt when absent;
// sets *missingValue when the option is last with no value.
std::optional<QString> takeOption(QStringList &args, const QString &name, bool *missingValue);
// Takes a bare flag (`--next`) out of args.
bool takeFlag(QStringList &args, const QString &name);

// Runs the event loop until `finish` is called (or the time is up: then it
// returns `timeoutStatus`). `start` gets `finish` to call with an exit status.
int runUntilFinished(const std::function<void(const std::function<void(int)> &finish)> &start,
                     std::chrono::milliseconds timeout, int timeoutStatus);

} // namespace sessionscope
