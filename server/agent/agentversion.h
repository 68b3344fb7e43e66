#pragma once

#include "net/result.h"
#include "server/agent/clientdataschema.h"

#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <QStringList>

#include <optional>

namespace sessionscope {

// A tool call the reply makes before its text (the model "calls" it on every
// turn, so a developer can watch tool parts and approvals go by).
struct AgentToolCall
{
    QString name;
    QJsonValue input = QJsonObject();
    QJsonValue output = QJsonObject();
    bool needsApproval = false;

    friend bool operator==(const AgentToolCall &, const AgentToolCall &) = default;
};

// What a version answers and how fast. Text is streamed one word per chunk.
struct AgentReplyBehaviour
{
    enum class Mode : quint8 { Echo, Fixed, Scripted };

    Mode mode = Mode::Echo;
    QString text;       // Fixed: the answer to every turn
    QStringList script; // Scripted: answer N is script[N % size]
    double chunksPerSecond = 30; // 0 writes a whole turn at once
    std::optional<QString> reasoning; // a reasoning part before the text when set
    std::optional<AgentToolCall> tool;

    static QString modeName(Mode mode);
    static std::optional<Mode> modeFromName(QStringView name);

    friend bool operator==(const AgentReplyBehaviour &, const AgentReplyBehaviour &) = default;
};

// One deployed version of an agent task: the contract it accepts, the
// clientData it requires, how it replies and where it asks for an upgrade.
// Runs are pinned to the version they started on.
struct AgentVersion
{
    enum class AppVersionPolicy : quint8 { Ignore, PinFirst };
    enum class UpgradeFrom : quint8 { TurnStart, InRun };

    static constexpr int DefaultIdleTimeoutInSeconds = 30; // chat.agent's default

    QString task;
    QString label; // "YYYYMMDD.N" unless the deployer names it
    QString description;
    QStringList supportedProtocolVersions; // empty: protocolVersion is not checked
    AppVersionPolicy appVersionPolicy = AppVersionPolicy::Ignore;
    ClientDataSchema clientDataSchema = ClientDataSchema::defaultSchema();
    AgentReplyBehaviour reply;
    int idleTimeoutInSeconds = DefaultIdleTimeoutInSeconds;
    UpgradeFrom upgradeFrom = UpgradeFrom::TurnStart;
    QDateTime deployedAt; // set by the registry
    QString builtin;      // the built-in it came from ("current", "next"), empty otherwise

    bool supportsProtocol(const QString &protocolVersion) const
    {
        return supportedProtocolVersions.isEmpty() || supportedProtocolVersions.contains(protocolVersion);
    }

    // Labels are path- and header-safe: 1..64 of [A-Za-z0-9._-].
    static bool isValidLabel(QStringView label);
    // "20261121.3" -> {20261121, 3}; nullopt for labels of another shape.
    static std::optional<std::pair<QString, int>> splitDatedLabel(QStringView label);

    QJsonObject toJson() const;
    // Parses a version file or an API body. Unknown keys are rejected so a
    // typo ("supportedProtocolVersion") is an error, not a silent default.
    static Result<AgentVersion> fromJson(const QJsonObject &object);

    static QString policyName(AppVersionPolicy policy);
    static QString upgradeFromName(UpgradeFrom from);

    friend bool operator==(const AgentVersion &, const AgentVersion &) = default;
};

} // namespace sessionscope
