#include "server/agent/builtinversions.h"

namespace sessionscope {

QStringList BuiltinVersions::names()
{
    return {QStringLiteral("current"), QStringLiteral("next")};
}

std::optional<AgentVersion> BuiltinVersions::find(const QString &task, const QString &name)
{
    if (task != QLatin1String(ChatAgentTask))
        return std::nullopt;
    AgentVersion v;
    v.task = task;
    v.builtin = name;
    v.reply.mode = AgentReplyBehaviour::Mode::Echo;
    v.reply.chunksPerSecond = DemoChunksPerSecond;
    v.idleTimeoutInSeconds = 120; // long enough to poke at a live run in the console
    v.upgradeFrom = AgentVersion::UpgradeFrom::TurnStart;
    if (name == QLatin1String("current")) {
        v.description = QStringLiteral("Built-in echo agent; accepts protocolVersion v1 only.");
        v.supportedProtocolVersions = {QStringLiteral("v1")};
        return v;
    }
    if (name == QLatin1String("next")) {
        v.description = QStringLiteral("Built-in echo agent with reasoning; accepts protocolVersion v2 and v3 "
                                       "(drops v1).");
        v.supportedProtocolVersions = {QStringLiteral("v2"), QStringLiteral("v3")};
        v.reply.reasoning = QString(); // derived from the question
        return v;
    }
    return std::nullopt;
}

} // namespace sessionscope
