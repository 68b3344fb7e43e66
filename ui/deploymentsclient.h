#pragma once

#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"
#include "server/agent/deploymentregistry.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
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

// The embedded server's deployment extension (server/agent/deploymentroutes.h):
// list the versions of a task and deploy a built-in one. Secret key only.
class DeploymentsClient : public QObject
{
    Q_OBJECT

public:
    explicit DeploymentsClient(const ConnectionProfile &profile, QObject *parent = nullptr);

    // An in-process registry (the embedded backend's runtime started by the
    // console) is used instead of HTTP when set.
    void setLocalRegistry(DeploymentRegistry *registry) { m_local = registry; }

    void list(const QString &task, QObject *context, ResultCallback<QList<DeployedVersion>> done);
    void deployBuiltin(const QString &task, const QString &builtin, QObject *context,
                       ResultCallback<DeployedVersion> done);

private:
    ConnectionProfile m_profile;
    RestTransport *m_transport;
    QPointer<DeploymentRegistry> m_local;
};

} // namespace sessionscope
