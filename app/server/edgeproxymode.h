#pragma once

#include "net/result.h"
#include "server/edgeproxy.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QCoreApplication>

#include <optional>

namespace sessionscope {

// The flags of `sessionscope-server --edge-proxy`: the same executable runs as
// a trusted edge in front of any backend instead of being one.
struct EdgeProxyOptions
{
    QCommandLineOption edgeProxy{
        QStringLiteral("edge-proxy"),
        QStringLiteral("Run as a trusted edge proxy in front of --upstream instead of serving sessions: rewrites "
                       "clientData under --namespace on session create and .in message appends, passes everything "
                       "else through.")};
    QCommandLineOption upstream{QStringLiteral("upstream"),
                                QStringLiteral("Edge proxy: the backend to relay to (http(s)://HOST[:PORT][/PREFIX])."),
                                QStringLiteral("url")};
    QCommandLineOption namespaceKey{QStringLiteral("namespace"),
                                    QStringLiteral("Edge proxy: the clientData key the proxy owns, e.g. __edge."),
                                    QStringLiteral("key")};
    QCommandLineOption edgeSignals{
        QStringLiteral("signals"),
        QStringLiteral("Edge proxy: the value written under the namespace: static:JSON, or a JSON file of "
                       "signals (static values, request headers, the client address; see "
                       "server/README-headless.md)."),
        QStringLiteral("file|static:json")};
    QCommandLineOption corsOrigin{
        QStringLiteral("cors-origin"),
        QStringLiteral("Edge proxy: answer CORS preflights for this origin (repeat or comma-separate; * for any). "
                       "Without it preflights go to the upstream."),
        QStringLiteral("origin")};

    void addTo(QCommandLineParser &parser) const;
    // nullopt without --edge-proxy (an error if an edge flag came without it).
    Result<std::optional<EdgeProxyConfig>> read(const QCommandLineParser &parser, const QHostAddress &host,
                                                quint16 port) const;
};

// Runs the proxy until a byte arrives on `signalFd` (SIGTERM / SIGINT); the
// exit status. Prints the same "listening on" line as the server.
int runEdgeProxy(QCoreApplication &app, EdgeProxyConfig config, int signalFd, bool secretKeyGiven);

} // namespace sessionscope
