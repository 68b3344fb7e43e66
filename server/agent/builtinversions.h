#pragma once

#include "server/agent/agentversion.h"

#include <QStringList>

#include <optional>

namespace sessionscope {

// The versions the embedded server ships so the upgrade path is visible out
// of the box: task `chat-agent` starts deployed at "current" (protocolVersion
// v1) and "next" (v2, v3) is one deploy away.
class BuiltinVersions
{
public:
    static constexpr const char *ChatAgentTask = "chat-agent";
    static constexpr double DemoChunksPerSecond = 30; // readable in the desktop app

    // Names a deploy call may ask for ("current", "next").
    static QStringList names();
    // The built-in `name` of `task`, with no label yet (the registry assigns it).
    static std::optional<AgentVersion> find(const QString &task, const QString &name);
};

} // namespace sessionscope
