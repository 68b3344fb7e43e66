#pragma once

#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QStringList>

namespace sessionscope {

// One deployed agent version as `GET /api/v1/deployments` lists it.
struct DeployedVersion
{
    QString task;
    QString label;
    QString description;
    QString builtin;
    QStringList supportedProtocolVersions; // empty: any protocolVersion
    QString appVersionPolicy;              // "ignore" or "pin-first"
    QDateTime deployedAt;
    bool isLatest = false;

    // "protocolVersion v2, v3; appVersion: pin-first".
    QString supportsText() const;
    static Result<DeployedVersion> fromJson(const QJsonObject &object);
};

// sessionscope-server's deployment extension (server/agent/deploymentroutes.h),
// embedded or headless: list the versions of a task and deploy a built-in one.
// Secret key only; Trigger.dev itself answers 404 (it deploys with its CLI).
class DeploymentsClient : public QObject
{
    Q_OBJECT

public:
    explicit DeploymentsClient(const ConnectionProfile &profile, QObject *parent = nullptr);

    void list(const QString &task, QObject *context, ResultCallback<QList<DeployedVersion>> done);
    void deployBuiltin(const QString &task, const QString &builtin, QObject *context,
                       ResultCallback<DeployedVersion> done);

private:
    ConnectionProfile m_profile;
    RestTransport *m_transport;
};

} // namespace sessionscope
