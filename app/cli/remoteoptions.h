#pragma once

#include "net/connectionprofile.h"
#include "net/result.h"

#include <QJsonObject>
#include <QStringList>

#include <optional>

namespace sessionscope {

// What every remote verb (sessions, stop, tail) takes: where the backend is
// and how to print. The server comes from --server URL --key KEY, else
// --profile NAME (a saved profile, key from the keychain or its 0600 file),
// else $SESSIONSCOPE_SERVER / $SESSIONSCOPE_KEY ($SESSIONSCOPE_URL /
// $SESSIONSCOPE_SECRET_KEY as the other verbs read them). Keys are never
// printed.
struct RemoteOptions
{
    ConnectionProfile profile;
    bool table = false; // --table: human tables instead of JSON lines

    static constexpr const char *Help =
        "Connection:\n"
        "  --server URL          the backend (Trigger.dev, self-hosted or sessionscope-server)\n"
        "  --key KEY             its secret key\n"
        "  --profile NAME        a saved profile instead (see 'sessionscope-cli profiles')\n"
        "                        default: $SESSIONSCOPE_SERVER and $SESSIONSCOPE_KEY\n"
        "  --endpoint FAMILY=URL one endpoint family (sessions, in, out, auth) at its own base\n"
        "                        URL, e.g. out=URL to read .out directly while the rest goes\n"
        "                        through a trusted edge proxy (repeatable; wins over the profile)\n"
        "  --table               print a table instead of JSON lines\n";

    // Takes the options above out of `args`. On failure prints why and sets
    // *status (usage error, or the profile store's error).
    static std::optional<RemoteOptions> take(const char *verb, QStringList &args, int *status);

    // What a remote verb does first: answers --help with `help` (its %1 is
    // Help) and takes the options. nullopt with *status set when the verb is
    // done already.
    static std::optional<RemoteOptions> start(const char *verb, const char *help, QStringList &args, int *status);
};

// Applies one --endpoint FAMILY=URL to `profile`; the usage error's text when
// the value is not of that form.
std::optional<QString> applyEndpointOption(ConnectionProfile &profile, const QString &spec);

// Prints {"error":...,"httpStatus":N} to stderr and returns the exit status:
// 3 when the server could not be reached (no HTTP status), 1 when it refused.
int reportFailure(const Error &error);

// A JSON value as one compact line on stdout.
void printJson(const QJsonObject &object);

// --client-data JSON as an object; a usage error otherwise.
std::optional<QJsonObject> parseJsonObjectOption(const char *verb, const char *option, const QString &text,
                                                 int *status);

} // namespace sessionscope
