#pragma once

#include "server/agent/agentversion.h"

#include <QJsonValue>
#include <QString>

namespace sessionscope {

// The turn-start check of the version-upgrade pattern (protocol.md, "Version
// upgrades"): does this run's version accept the contract marker the client
// sent in clientData?
class ContractCheck
{
public:
    enum class Outcome : quint8 {
        Supported,
        UnsupportedProtocol, // clientData.protocolVersion is not in supportedProtocolVersions
        AppVersionChanged,   // pin-first and clientData.appVersion differs from the pinned one
    };

    struct Verdict
    {
        Outcome outcome = Outcome::Supported;
        QString marker; // the protocolVersion / appVersion the client sent
        QString detail; // one line for the run's log and the console

        bool supported() const { return outcome == Outcome::Supported; }
    };

    // pinnedAppVersion: the appVersion the run booted with (empty: none yet,
    // the caller pins the first one it sees). A missing marker is accepted, as
    // chat.agent's own turn-start hooks do.
    static Verdict check(const AgentVersion &version, const QJsonValue &clientData, const QString &pinnedAppVersion);

    // Whether `version` would answer this clientData at all, ignoring the
    // appVersion pin (a fresh run pins whatever the client sends).
    static bool accepts(const AgentVersion &version, const QJsonValue &clientData);

    static QString protocolVersionOf(const QJsonValue &clientData);
    static QString appVersionOf(const QJsonValue &clientData);
};

} // namespace sessionscope
