#include "app/server/edgeproxymode.h"

#include <QSocketNotifier>
#include <QTimer>

#include <cstdio>
#include <unistd.h>

namespace sessionscope {

void EdgeProxyOptions::addTo(QCommandLineParser &parser) const
{
    parser.addOptions({edgeProxy, upstream, namespaceKey, edgeSignals, corsOrigin});
}

Result<std::optional<EdgeProxyConfig>> EdgeProxyOptions::read(const QCommandLineParser &parser,
                                                              const QHostAddress &host, quint16 port) const
{
    if (!parser.isSet(edgeProxy)) {
        for (const QCommandLineOption *o : {&upstream, &namespaceKey, &edgeSignals, &corsOrigin}) {
            if (parser.isSet(*o))
                return Error::make(QStringLiteral("--%1 is an --edge-proxy option").arg(o->names().constFirst()));
        }
        return std::optional<EdgeProxyConfig>();
    }
    for (const QCommandLineOption *o : {&upstream, &namespaceKey, &edgeSignals}) {
        if (!parser.isSet(*o))
            return Error::make(QStringLiteral("--edge-proxy needs --%1").arg(o->names().constFirst()));
    }
    EdgeProxyConfig config;
    config.host = host;
    config.port = port;
    config.upstream = QUrl(parser.value(upstream), QUrl::StrictMode);
    config.namespaceKey = parser.value(namespaceKey);
    auto loaded = EdgeSignals::fromSpec(parser.value(edgeSignals));
    if (!loaded)
        return Error::make(QStringLiteral("--") + loaded.error().message);
    config.edgeSignals = std::move(*loaded);
    for (const QString &value : parser.values(corsOrigin)) {
        for (const QString &origin : value.split(QLatin1Char(','), Qt::SkipEmptyParts))
            config.corsOrigins << origin.trimmed();
    }
    if (auto valid = EdgeProxy::validate(config); !valid)
        return valid.error();
    return std::optional<EdgeProxyConfig>(std::move(config));
}

int runEdgeProxy(QCoreApplication &app, EdgeProxyConfig config, int signalFd, bool secretKeyGiven)
{
    EdgeProxy proxy(std::move(config));
    if (auto started = proxy.start(); !started) {
        std::fprintf(stderr, "sessionscope-server: %s\n", qPrintable(started.error().message));
        return 1;
    }
    const EdgeProxyConfig &c = proxy.config();
    std::fprintf(stderr, "sessionscope-server: edge proxy to %s, namespace %s, signals: %s\n",
                 qPrintable(c.upstream.toString(QUrl::RemoveUserInfo)), qPrintable(c.namespaceKey),
                 qPrintable(c.edgeSignals.describe()));
    if (!c.corsOrigins.isEmpty())
        std::fprintf(stderr, "sessionscope-server: CORS preflights answered for %s\n",
                     qPrintable(c.corsOrigins.join(QLatin1String(", "))));
    if (secretKeyGiven)
        std::fprintf(stderr, "sessionscope-server: --secret-key is not used by the edge proxy (clients send their "
                             "own credentials)\n");
    std::fprintf(stdout, "sessionscope-server listening on %s\n",
                 qPrintable(proxy.baseUrl().toString(QUrl::StripTrailingSlash)));
    std::fflush(stdout);

    QSocketNotifier notifier(signalFd, QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, &app, [&] {
        char byte;
        [[maybe_unused]] const auto n = ::read(signalFd, &byte, 1);
        notifier.setEnabled(false);
        std::fprintf(stderr, "sessionscope-server: shutting down\n");
        proxy.stop();
        // A moment for the sockets to flush what was already written.
        QTimer::singleShot(100, &app, &QCoreApplication::quit);
    });
    return app.exec();
}

} // namespace sessionscope
