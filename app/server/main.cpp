// sessionscope-server: the session wire protocol of Trigger.dev, served from
// SQLite, for CI and for anyone's custom chat transport.

#include "app/server/edgeproxymode.h"
#include "server/agent/agentruntime.h"
#include "server/agent/deploymentregistry.h"
#include "server/chaosspec.h"
#include "server/ratelimiter.h"
#include "server/sessionserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QStandardPaths>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

using namespace sessionscope;

namespace {

int g_signalFds[2] = {-1, -1};

void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(g_signalFds[0], &byte, 1);
}

void fail(const QString &message, int code)
{
    std::fprintf(stderr, "sessionscope-server: %s\n", qPrintable(message));
    std::exit(code);
}

// Loud, so nobody takes a chaos server's failures for real ones.
void printChaosWarning(const ChaosSpec &spec)
{
    const char *lines[] = {
        "################################################################",
        "#  CHAOS MODE: this server injects faults ON PURPOSE.",
        "#  SSE connections drop, appends fail with 503, requests stall.",
        "#  For resilience tests only; never point real work at it.",
        "#  Every response carries X-Sessionscope-Chaos; GET /api/v1/chaos",
        "#  (secret key) counts the faults injected so far.",
    };
    for (const char *line : lines)
        std::fprintf(stderr, "sessionscope-server: %s\n", line);
    std::fprintf(stderr, "sessionscope-server: #  spec: %s\n", qPrintable(spec.toString()));
    std::fprintf(stderr, "sessionscope-server: %s\n", lines[0]);
}

QString defaultDataDir()
{
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation))
        .filePath(QStringLiteral("sessionscope/server"));
}

} // namespace

int main(int argc, char **argv)
{
    // Glib's dispatcher keeps socket notifiers in a list, and every SSE write
    // enables and disables one: with a thousand subscribers that list walk was
    // 35% of the server's time (bench "server-fanout"). Qt's own dispatcher
    // keeps them in a hash.
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sessionscope-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SESSIONSCOPE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Serves the Trigger.dev session wire protocol (sessions, runs, .in/.out channels over SSE) "
        "from a local SQLite database."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption host(QStringLiteral("host"),
                            QStringLiteral("Address to bind (default 127.0.0.1)."),
                            QStringLiteral("address"), QStringLiteral("127.0.0.1"));
    QCommandLineOption port(QStringLiteral("port"),
                            QStringLiteral("Port to bind; 0 picks a free one (default 0)."),
                            QStringLiteral("port"), QStringLiteral("0"));
    QCommandLineOption dataDir(
        QStringLiteral("data-dir"),
        QStringLiteral("Directory for the database and the generated secret key (default %1).")
            .arg(defaultDataDir()),
        QStringLiteral("dir"), defaultDataDir());
    QCommandLineOption secretKey(
        QStringLiteral("secret-key"),
        QStringLiteral("Secret key clients authenticate with (else $SESSIONSCOPE_SECRET_KEY, "
                       "else generated once into DATA_DIR/secret-key)."),
        QStringLiteral("key"));
    QCommandLineOption rateLimit(
        QStringLiteral("rate-limit"),
        QStringLiteral("Per-credential request limit, e.g. 20/s or 600/m (default off)."),
        QStringLiteral("rate"));
    QCommandLineOption runVersion(
        QStringLiteral("run-version"),
        QStringLiteral("Version label new runs are pinned to (default 0)."),
        QStringLiteral("label"), QStringLiteral("0"));
    QCommandLineOption noAgent(
        QStringLiteral("no-agent"),
        QStringLiteral("Do not run the built-in agent: runs stay rows and .out is written "
                       "only through out/append."));
    QCommandLineOption agentRate(
        QStringLiteral("agent-chunks-per-second"),
        QStringLiteral("Pace every agent version's replies at this rate (0: no pacing; default: "
                       "each version's own)."),
        QStringLiteral("rate"));
    QCommandLineOption pingInterval(QStringLiteral("ping-interval-ms"),
                                    QStringLiteral("SSE ping interval."), QStringLiteral("ms"),
                                    QStringLiteral("5000"));
    pingInterval.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption settleDrain(QStringLiteral("settle-drain-ms"),
                                   QStringLiteral("Wait after the backlog of a settled stream."),
                                   QStringLiteral("ms"), QStringLiteral("0"));
    settleDrain.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption chaos(
        QStringLiteral("chaos"),
        QStringLiteral("Inject faults on purpose, for resilience tests (default off). SPEC is a comma list of "
                       "sse-drop=P (cut an SSE connection at an event, sometimes mid-event), append-5xx=P (503 on "
                       "an append, half before and half after storing it), latency=A-Bms (hold each request "
                       "A..B ms), slow-read=P (trickle an SSE response in 1..64 byte fragments), seed=N (replay "
                       "a run). P is a probability 0..1. Every response then carries X-Sessionscope-Chaos; GET "
                       "/api/v1/chaos counts the faults."),
        QStringLiteral("spec"));
    parser.addOptions({host, port, dataDir, secretKey, rateLimit, runVersion, noAgent, agentRate, pingInterval,
                       settleDrain, chaos});
    const EdgeProxyOptions edgeOptions;
    edgeOptions.addTo(parser);
    parser.process(app);

    ServerConfig config;
    const QString hostText = parser.value(host);
    if (hostText == u"localhost")
        config.host = QHostAddress(QHostAddress::LocalHost);
    else if (!config.host.setAddress(hostText))
        fail(QStringLiteral("--host: \"%1\" is not an IP address").arg(hostText), 2);
    bool ok = false;
    const uint portValue = parser.value(port).toUInt(&ok);
    if (!ok || portValue > 65535)
        fail(QStringLiteral("--port: \"%1\" is not a port number").arg(parser.value(port)), 2);
    config.port = quint16(portValue);
    config.dataDir = QDir(parser.value(dataDir)).absolutePath();
    config.defaultRunVersion = parser.value(runVersion);
    config.pingIntervalMs = parser.value(pingInterval).toInt(&ok);
    if (!ok || config.pingIntervalMs < 1)
        fail(QStringLiteral("--ping-interval-ms must be a positive number"), 2);
    config.settleDrainMs = parser.value(settleDrain).toInt(&ok);
    if (!ok || config.settleDrainMs < 0)
        fail(QStringLiteral("--settle-drain-ms must be a number >= 0"), 2);
    config.agentRuntime = !parser.isSet(noAgent);
    if (parser.isSet(agentRate)) {
        config.agentChunksPerSecond = parser.value(agentRate).toDouble(&ok);
        if (!ok || config.agentChunksPerSecond < 0)
            fail(QStringLiteral("--agent-chunks-per-second must be a number >= 0"), 2);
    }
    if (parser.isSet(rateLimit)) {
        auto spec = RateLimiter::parse(parser.value(rateLimit));
        if (!spec)
            fail(QStringLiteral("--rate-limit: ") + spec.error().message, 2);
        config.rateLimitPerSecond = spec->ratePerSecond;
        config.rateLimitBurst = spec->burst;
    }
    if (parser.isSet(chaos)) {
        auto spec = ChaosSpec::parse(parser.value(chaos));
        if (!spec)
            fail(QStringLiteral("--chaos: ") + spec.error().message, 2);
        if (!spec->isActive())
            fail(QStringLiteral("--chaos: \"%1\" turns no fault on").arg(parser.value(chaos)), 2);
        // Chosen here so the warning shows the seed that replays this run.
        if (!spec->seed)
            spec->seed = QRandomGenerator::system()->generate64();
        config.chaos = *spec;
    }
    if (parser.isSet(secretKey))
        config.secretKey = parser.value(secretKey);
    else if (const QByteArray env = qgetenv("SESSIONSCOPE_SECRET_KEY"); !env.isEmpty())
        config.secretKey = QString::fromUtf8(env);

    if (!config.host.isLoopback()) {
        std::fprintf(stderr,
                     "sessionscope-server: warning: binding %s, which is not a loopback address: "
                     "anyone who can reach "
                     "it and holds the secret key or a token can read and write sessions\n",
                     qPrintable(config.host.toString()));
    }

    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalFds) != 0)
        fail(QStringLiteral("cannot set up signal handling"), 1);
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    auto edge = edgeOptions.read(parser, config.host, config.port);
    if (!edge)
        fail(edge.error().message, 2);
    if (*edge && config.chaos.isActive())
        fail(QStringLiteral("--chaos applies to the session server, not to --edge-proxy"), 2);
    if (*edge)
        return runEdgeProxy(app, std::move(**edge), g_signalFds[1], parser.isSet(secretKey));

    SessionServer server(config);
    if (auto started = server.start(); !started)
        fail(started.error().message, 1);
    if (!server.secretKeyPath().isEmpty()) {
        std::fprintf(stderr, "sessionscope-server: secret key %s %s\n",
                     server.secretKeyGenerated() ? "generated and stored in" : "read from",
                     qPrintable(server.secretKeyPath()));
    }
    std::fprintf(stderr, "sessionscope-server: data in %s\n", qPrintable(config.dataDir));
    if (config.chaos.isActive())
        printChaosWarning(config.chaos);
    if (AgentRuntime *agent = server.agentRuntime()) {
        for (const QString &task : agent->registry().tasks()) {
            if (const auto latest = agent->registry().latest(task)) {
                std::fprintf(stderr, "sessionscope-server: agent %s at version %s (protocolVersion %s)\n",
                             qPrintable(task), qPrintable(latest->label),
                             latest->supportedProtocolVersions.isEmpty()
                                 ? "any"
                                 : qPrintable(latest->supportedProtocolVersions.join(u',')));
            }
        }
    } else {
        std::fprintf(stderr, "sessionscope-server: agent runtime off (--no-agent)\n");
    }
    std::fprintf(stdout, "sessionscope-server listening on %s\n",
                 qPrintable(server.baseUrl().toString(QUrl::StripTrailingSlash)));
    std::fflush(stdout);

    QSocketNotifier notifier(g_signalFds[1], QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, &app, [&] {
        char byte;
        [[maybe_unused]] const auto n = ::read(g_signalFds[1], &byte, 1);
        notifier.setEnabled(false);
        std::fprintf(stderr, "sessionscope-server: shutting down\n");
        server.stop();
        // Give clients a moment to read the final [DONE] and responses.
        auto *timer = new QTimer(&app);
        auto *elapsed = new QElapsedTimer();
        elapsed->start();
        QObject::connect(timer, &QTimer::timeout, &app, [&server, timer, elapsed] {
            if (server.connectionCount() == 0 || elapsed->elapsed() > 1000) {
                timer->stop();
                delete elapsed;
                QCoreApplication::quit();
            }
        });
        timer->start(20);
    });
    return app.exec();
}
