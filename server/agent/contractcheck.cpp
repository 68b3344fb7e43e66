#include "server/agent/contractcheck.h"

#include <QJsonObject>

namespace sessionscope {

namespace {

QString stringMarker(const QJsonValue &clientData, QLatin1String key)
{
    const QJsonValue v = clientData.toObject().value(key);
    if (v.isString())
        return v.toString();
    if (v.isDouble()) // a client sending protocolVersion: 2 still means something
        return QString::number(v.toDouble());
    return {};
}

} // namespace

QString ContractCheck::protocolVersionOf(const QJsonValue &clientData)
{
    return stringMarker(clientData, QLatin1String("protocolVersion"));
}

QString ContractCheck::appVersionOf(const QJsonValue &clientData)
{
    return stringMarker(clientData, QLatin1String("appVersion"));
}

ContractCheck::Verdict ContractCheck::check(const AgentVersion &version, const QJsonValue &clientData,
                                            const QString &pinnedAppVersion)
{
    Verdict verdict;
    const QString protocol = protocolVersionOf(clientData);
    if (!protocol.isEmpty() && !version.supportsProtocol(protocol)) {
        verdict.outcome = Outcome::UnsupportedProtocol;
        verdict.marker = protocol;
        verdict.detail = QStringLiteral("protocolVersion %1 is not supported by version %2 (supports %3)")
                             .arg(protocol, version.label, version.supportedProtocolVersions.join(QLatin1String(", ")));
        return verdict;
    }
    if (version.appVersionPolicy == AgentVersion::AppVersionPolicy::PinFirst) {
        const QString app = appVersionOf(clientData);
        if (!app.isEmpty() && !pinnedAppVersion.isEmpty() && app != pinnedAppVersion) {
            verdict.outcome = Outcome::AppVersionChanged;
            verdict.marker = app;
            verdict.detail = QStringLiteral("appVersion changed from %1 to %2; version %3 pins the first one")
                                 .arg(pinnedAppVersion, app, version.label);
            return verdict;
        }
    }
    return verdict;
}

bool ContractCheck::accepts(const AgentVersion &version, const QJsonValue &clientData)
{
    return check(version, clientData, QString()).supported();
}

} // namespace sessionscope
