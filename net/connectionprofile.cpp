#include "net/connectionprofile.h"

namespace sessionscope {

namespace {

constexpr EndpointFamily AllFamilies[] = {EndpointFamily::Sessions, EndpointFamily::In,
                                          EndpointFamily::Out, EndpointFamily::Auth};

Result<void> checkBaseUrl(const QUrl &url, const QString &what)
{
    if (!url.isValid() || url.host().isEmpty())
        return Error::make(QStringLiteral("%1 is not a valid URL: \"%2\"").arg(what, url.toString()));
    if (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https"))
        return Error::make(QStringLiteral("%1 must be http:// or https://, got \"%2\"").arg(what, url.toString()));
    if (url.hasQuery() || url.hasFragment())
        return Error::make(QStringLiteral("%1 must not carry a query or fragment: \"%2\"").arg(what, url.toString()));
    if (!url.userInfo().isEmpty())
        return Error::make(QStringLiteral("%1 must not carry credentials; store the key in the profile instead").arg(what));
    return {};
}

} // namespace

ConnectionProfile ConnectionProfile::cloud(const QString &name)
{
    ConnectionProfile p;
    p.name = name;
    p.kind = BackendKind::Cloud;
    p.baseUrl = QUrl(QString::fromLatin1(CloudUrl));
    return p;
}

ConnectionProfile ConnectionProfile::selfHosted(const QString &name, const QUrl &url)
{
    ConnectionProfile p;
    p.name = name;
    p.kind = BackendKind::SelfHosted;
    p.baseUrl = url;
    return p;
}

ConnectionProfile ConnectionProfile::embedded(const QString &name, const QUrl &url)
{
    ConnectionProfile p;
    p.name = name;
    p.kind = BackendKind::Embedded;
    p.baseUrl = url;
    return p;
}

QUrl ConnectionProfile::endpoint(EndpointFamily family) const
{
    const auto it = endpointOverrides.constFind(family);
    if (it != endpointOverrides.constEnd() && it->isValid() && !it->isEmpty())
        return *it;
    return baseUrl;
}

QUrl ConnectionProfile::url(EndpointFamily family, const QStringList &segments, const QueryItems &query) const
{
    QByteArray text = endpoint(family).toEncoded(QUrl::RemoveQuery | QUrl::RemoveFragment);
    while (text.endsWith('/'))
        text.chop(1);
    for (const QString &segment : segments) {
        text += '/';
        text += QUrl::toPercentEncoding(segment);
    }
    if (!query.isEmpty()) {
        text += '?';
        bool first = true;
        for (const auto &[key, value] : query) {
            if (!first)
                text += '&';
            first = false;
            // Brackets stay literal in keys ("filter[status]") as every server
            // reads them so; values are fully encoded so '+' and ',' survive.
            text += QUrl::toPercentEncoding(key, "[]");
            text += '=';
            text += QUrl::toPercentEncoding(value);
        }
    }
    return QUrl::fromEncoded(text, QUrl::StrictMode);
}

Result<void> ConnectionProfile::validate() const
{
    if (name.trimmed().isEmpty())
        return Error::make(QStringLiteral("A profile needs a name"));
    if (auto r = checkBaseUrl(baseUrl, QStringLiteral("The base URL of profile \"%1\"").arg(name)); !r)
        return r;
    for (auto it = endpointOverrides.cbegin(); it != endpointOverrides.cend(); ++it) {
        const QString what = QStringLiteral("The %1 URL of profile \"%2\"").arg(familyName(it.key()), name);
        if (auto r = checkBaseUrl(it.value(), what); !r)
            return r;
    }
    return {};
}

QJsonObject ConnectionProfile::toJson() const
{
    QJsonObject endpoints;
    for (auto it = endpointOverrides.cbegin(); it != endpointOverrides.cend(); ++it)
        endpoints.insert(familyName(it.key()), it.value().toString());
    QJsonObject o{{QStringLiteral("name"), name},
                  {QStringLiteral("kind"), kindName(kind)},
                  {QStringLiteral("baseUrl"), baseUrl.toString()},
                  {QStringLiteral("secretStorage"), storageName(secretStorage)}};
    if (!endpoints.isEmpty())
        o.insert(QStringLiteral("endpoints"), endpoints);
    if (!secretStorageNote.isEmpty())
        o.insert(QStringLiteral("secretStorageNote"), secretStorageNote);
    if (!edgeNamespace.isEmpty())
        o.insert(QStringLiteral("edgeNamespace"), edgeNamespace);
    return o;
}

Result<ConnectionProfile> ConnectionProfile::fromJson(const QJsonObject &o)
{
    ConnectionProfile p;
    p.name = o.value(QStringLiteral("name")).toString();
    const auto kind = kindFromName(o.value(QStringLiteral("kind")).toString());
    if (!kind)
        return Error::make(QStringLiteral("Profile \"%1\" has an unknown kind \"%2\" (cloud, self-hosted, embedded)")
                               .arg(p.name, o.value(QStringLiteral("kind")).toString()));
    p.kind = *kind;
    p.baseUrl = QUrl(o.value(QStringLiteral("baseUrl")).toString());
    const QJsonObject endpoints = o.value(QStringLiteral("endpoints")).toObject();
    for (auto it = endpoints.begin(); it != endpoints.end(); ++it) {
        const auto family = familyFromName(it.key());
        if (!family)
            return Error::make(QStringLiteral("Profile \"%1\" names an unknown endpoint family \"%2\" (sessions, in, out, auth)")
                                   .arg(p.name, it.key()));
        p.endpointOverrides.insert(*family, QUrl(it.value().toString()));
    }
    const QString storage = o.value(QStringLiteral("secretStorage")).toString();
    if (storage == QLatin1String("keychain"))
        p.secretStorage = SecretStorage::Keychain;
    else if (storage == QLatin1String("file"))
        p.secretStorage = SecretStorage::File;
    p.secretStorageNote = o.value(QStringLiteral("secretStorageNote")).toString();
    p.edgeNamespace = o.value(QStringLiteral("edgeNamespace")).toString();
    if (auto r = p.validate(); !r)
        return r.error();
    return p;
}

QString ConnectionProfile::familyName(EndpointFamily family)
{
    switch (family) {
    case EndpointFamily::Sessions:
        return QStringLiteral("sessions");
    case EndpointFamily::In:
        return QStringLiteral("in");
    case EndpointFamily::Out:
        return QStringLiteral("out");
    case EndpointFamily::Auth:
        return QStringLiteral("auth");
    }
    return {};
}

std::optional<EndpointFamily> ConnectionProfile::familyFromName(QStringView name)
{
    for (EndpointFamily f : AllFamilies) {
        if (familyName(f) == name)
            return f;
    }
    return std::nullopt;
}

QString ConnectionProfile::kindName(BackendKind kind)
{
    switch (kind) {
    case BackendKind::Cloud:
        return QStringLiteral("cloud");
    case BackendKind::SelfHosted:
        return QStringLiteral("self-hosted");
    case BackendKind::Embedded:
        return QStringLiteral("embedded");
    }
    return {};
}

std::optional<BackendKind> ConnectionProfile::kindFromName(QStringView name)
{
    for (BackendKind k : {BackendKind::Cloud, BackendKind::SelfHosted, BackendKind::Embedded}) {
        if (kindName(k) == name)
            return k;
    }
    return std::nullopt;
}

QString ConnectionProfile::storageName(SecretStorage storage)
{
    switch (storage) {
    case SecretStorage::None:
        return QStringLiteral("none");
    case SecretStorage::Keychain:
        return QStringLiteral("keychain");
    case SecretStorage::File:
        return QStringLiteral("file");
    }
    return {};
}

} // namespace sessionscope
