#pragma once

#include "server/chaosspec.h"

#include <QHostAddress>
#include <QString>

namespace sessionscope {

// Everything a SessionServer needs to start. Defaults are the embedded
// server's: loopback, any free port, the real API's timings.
struct ServerConfig
{
    QHostAddress host = QHostAddress::LocalHost;
    quint16 port = 0;
    QString dataDir; // required: the SQLite file and the generated secret key live here
    // Empty: read DATA_DIR/secret-key, generating it on first start.
    QString secretKey;
    // The `sub` of minted tokens (Trigger.dev's environment id).
    QString environmentId = QStringLiteral("env_sessionscope");
    // The version label new runs are pinned to until an agent runtime deploys versions.
    QString defaultRunVersion = QStringLiteral("0");

    int pingIntervalMs = 5000;      // SSE ping when idle
    int defaultTimeoutSeconds = 60; // SSE long-poll length without Timeout-Seconds
    // With X-Peek-Settled on a settled stream: how long to wait for more records
    // after the backlog before closing (the real API closes at once).
    int settleDrainMs = 0;
    qint64 tokenTtlSeconds = 3600;

    // The built-in agent runtime (deployable versions of chat-agent, the turn
    // loop, upgrades). Off leaves runs as rows only, for protocol tests that
    // drive .out themselves.
    bool agentRuntime = true;
    // Overrides every agent version's reply pacing (chunks/s; 0: none;
    // negative: each version's own rate).
    double agentChunksPerSecond = -1;

    // Per-credential token bucket; 0 turns rate limiting off.
    double rateLimitPerSecond = 0;
    int rateLimitBurst = 0; // 0: the rate rounded up

    // Fault injection for resilience tests (--chaos); inactive by default.
    ChaosSpec chaos;
};

} // namespace sessionscope
