#include "ui/deploymentsclient.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace sessionscope {

QString DeployedVersion::supportsText() const
{
    QString protocols = supportedProtocolVersions.isEmpty()
                            ? QObject::tr("any protocolVersion")
                            : QObject::tr("protocolVersion %1").arg(supportedProtocolVersions.join(QStringLiteral(", ")));
    return QObject::tr("%1; appVersion: %2").arg(protocols, appVersionPolicy.isEmpty() ? QStringLiteral("ignore")
                                                                                       : appVersionPolicy);
}

Result<DeployedVersion> DeployedVersion::fromJson(const QJsonObject &o)
{
    DeployedVersion v;
    v.task = o.value(QStringLiteral("task")).toString();
    v.label = o.value(QStringLiteral("label")).toString();
    if (v.label.isEmpty())
        return Error::make(QObject::tr("A deployment without a label"));
    v.description = o.value(QStringLiteral("description")).toString();
    v.builtin = o.value(QStringLiteral("builtin")).toString();
    for (const QJsonValue &p : o.value(QStringLiteral("supportedProtocolVersions")).toArray())
        v.supportedProtocolVersions.append(p.toString());
    v.appVersionPolicy = o.value(QStringLiteral("appVersionPolicy")).toString();
    v.deployedAt = QDateTime::fromString(o.value(QStringLiteral("deployedAt")).toString(), Qt::ISODateWithMs);
    v.isLatest = o.value(QStringLiteral("isLatest")).toBool();
    return v;
}

DeploymentsClient::DeploymentsClient(const ConnectionProfile &profile, QObject *parent)
    : QObject(parent), m_profile(profile), m_transport(new RestTransport(this))
{
    m_transport->setBearer(profile.secretKey);
}

void DeploymentsClient::list(const QString &task, QObject *context, ResultCallback<QList<DeployedVersion>> done)
{
    HttpRequest request;
    request.url = m_profile.url(EndpointFamily::Sessions, {QStringLiteral("api"), QStringLiteral("v1"),
                                                          QStringLiteral("deployments")},
                                {{QStringLiteral("task"), task}});
    m_transport->send(request, context, [done = std::move(done), request](Result<HttpResponse> answer) {
        if (!answer.ok())
            return done(answer.error());
        if (answer->status != 200)
            return done(RestTransport::errorFromResponse(*answer, request));
        auto object = answer->jsonObject();
        if (!object.ok())
            return done(object.error());
        QList<DeployedVersion> versions;
        for (const QJsonValue &item : object->value(QStringLiteral("data")).toArray()) {
            auto v = DeployedVersion::fromJson(item.toObject());
            if (!v.ok())
                return done(v.error());
            versions.append(*v);
        }
        done(versions);
    });
}

void DeploymentsClient::deployBuiltin(const QString &task, const QString &builtin, QObject *context,
                                      ResultCallback<DeployedVersion> done)
{
    HttpRequest request;
    request.verb = "POST";
    request.idempotent = false;
    request.url = m_profile.url(EndpointFamily::Sessions, {QStringLiteral("api"), QStringLiteral("v1"),
                                                          QStringLiteral("deployments")});
    request.body = QJsonDocument(QJsonObject{{QStringLiteral("task"), task}, {QStringLiteral("builtin"), builtin}})
                       .toJson(QJsonDocument::Compact);
    m_transport->send(request, context, [done = std::move(done), request](Result<HttpResponse> answer) {
        if (!answer.ok())
            return done(answer.error());
        if (answer->status != 201 && answer->status != 200)
            return done(RestTransport::errorFromResponse(*answer, request));
        auto object = answer->jsonObject();
        if (!object.ok())
            return done(object.error());
        auto version = DeployedVersion::fromJson(object->value(QStringLiteral("deployment")).toObject());
        if (version.ok())
            version->isLatest = true;
        done(version);
    });
}

} // namespace sessionscope
