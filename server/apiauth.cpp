#include "server/apiauth.h"

#include "server/tokenservice.h"

namespace sessionscope {

namespace {

bool scopeMatches(QStringView scope, QStringView action, const ScopeResource &r)
{
    const qsizetype first = scope.indexOf(QLatin1Char(':'));
    const QStringView scopeAction = first < 0 ? scope : scope.left(first);
    if (scopeAction.isEmpty())
        return false;
    QStringView type;
    QStringView id;
    if (first >= 0) {
        const QStringView rest = scope.mid(first + 1);
        const qsizetype second = rest.indexOf(QLatin1Char(':'));
        type = second < 0 ? rest : rest.left(second);
        if (second >= 0)
            id = rest.mid(second + 1);
    }
    if (scopeAction == u"admin" && type.isEmpty())
        return true;
    if (scopeAction != action && scopeAction != u"*")
        return false;
    if (type == u"all")
        return true;
    if (type.isEmpty() || type != r.type)
        return false;
    if (id.isEmpty())
        return true;
    return !r.id.isEmpty() && id == r.id;
}

} // namespace

bool AuthContext::can(QStringView action, const ScopeResource &resource) const
{
    if (isSecretKey())
        return true;
    for (const QString &scope : scopes) {
        if (scopeMatches(scope, action, resource))
            return true;
    }
    return false;
}

bool AuthContext::canAny(QStringView action, const QList<ScopeResource> &resources) const
{
    if (resources.isEmpty())
        return false;
    for (const auto &r : resources) {
        if (can(action, r))
            return true;
    }
    return false;
}

bool AuthContext::canEvery(QStringView action, const QList<ScopeResource> &resources,
                           const QList<ScopeResource> &alternatives) const
{
    if (!alternatives.isEmpty() && canAny(action, alternatives))
        return true;
    if (resources.isEmpty())
        return false;
    for (const auto &r : resources) {
        if (!can(action, r))
            return false;
    }
    return true;
}

ApiAuth::ApiAuth(QByteArray secretKey, const TokenService &tokens)
    : m_secretKey(std::move(secretKey)), m_tokens(tokens)
{
}

Result<AuthContext> ApiAuth::authenticate(QByteArrayView authorizationHeader) const
{
    const QByteArray header = authorizationHeader.trimmed().toByteArray();
    if (!header.startsWith("Bearer ") && !header.startsWith("bearer "))
        return TokenService::unauthorized(QStringLiteral("Invalid or Missing API key"));
    const QByteArray credential = header.mid(7).trimmed();
    if (credential.isEmpty())
        return TokenService::unauthorized(QStringLiteral("Invalid or Missing API key"));

    AuthContext ctx;
    ctx.credential = credential;
    if (TokenService::constantTimeEquals(credential, m_secretKey)) {
        ctx.kind = AuthContext::Kind::SecretKey;
        return ctx;
    }
    if (!TokenService::looksLikePublicToken(credential))
        return TokenService::unauthorized(QStringLiteral("Invalid API Key"));
    auto claims = m_tokens.verify(credential);
    if (!claims)
        return claims.error();
    ctx.kind = AuthContext::Kind::PublicToken;
    ctx.scopes = claims->scopes;
    return ctx;
}

} // namespace sessionscope
