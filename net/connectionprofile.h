#pragma once

#include "net/result.h"

#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <optional>

namespace sessionscope {

// The trusted-edge pattern lets `in` and `sessions` traffic go through a proxy
// while `out` goes straight to the API, so every family can have its own base.
enum class EndpointFamily : quint8 { Sessions, In, Out, Auth };

enum class BackendKind : quint8 { Cloud, SelfHosted, Embedded };

// Where a profile's secret key lives. File is the fallback where no keychain
// service runs (CI, headless boxes); the profile says so in secretStorageNote.
enum class SecretStorage : quint8 { None, Keychain, File };

using QueryItems = QList<QPair<QString, QString>>;

// A named backend the console can talk to. The secret key is carried in
// memory only; toJson() never writes it (ProfileStore keeps it elsewhere).
struct ConnectionProfile
{
    QString name;
    BackendKind kind = BackendKind::Embedded;
    QUrl baseUrl;
    QMap<EndpointFamily, QUrl> endpointOverrides;
    SecretStorage secretStorage = SecretStorage::None;
    QString secretStorageNote;
    QString secretKey;
    // The clientData key an edge proxy owns (the trusted-edge pattern), e.g.
    // "__edge"; empty when no edge rewrites clientData.
    QString edgeNamespace;

    static constexpr const char *CloudUrl = "https://api.trigger.dev";

    static ConnectionProfile cloud(const QString &name = QStringLiteral("Trigger.dev cloud"));
    static ConnectionProfile selfHosted(const QString &name, const QUrl &url);
    static ConnectionProfile embedded(const QString &name, const QUrl &url);

    // The base URL for a family: its override, else the profile's base URL.
    QUrl endpoint(EndpointFamily family) const;

    // Base URL of the family + the path segments (each percent-encoded, so an
    // externalId with '/' or '?' stays one segment) + the query items.
    QUrl url(EndpointFamily family, const QStringList &segments, const QueryItems &query = {}) const;

    Result<void> validate() const;

    QJsonObject toJson() const;
    static Result<ConnectionProfile> fromJson(const QJsonObject &object);

    static QString familyName(EndpointFamily family);
    static std::optional<EndpointFamily> familyFromName(QStringView name);
    static QString kindName(BackendKind kind);
    static std::optional<BackendKind> kindFromName(QStringView name);
    static QString storageName(SecretStorage storage);
};

} // namespace sessionscope
