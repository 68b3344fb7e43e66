#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

namespace sessionscope {

class TokenService;

// What a scope can name: {type:"sessions", id:"chat-1"}; an empty id is the
// type-level resource (the collection).
struct ScopeResource
{
    QString type;
    QString id;
};

// Who is calling and what they may do. The secret key may do everything; a
// public token may do what its scopes say, matched as the webapp's JWT
// ability matches them: "action:type[:id]" (the id keeps further colons),
// bare "admin" allows everything, "<action>:all" every type, a scope without
// an id every resource of its type, and "*" any action.
struct AuthContext
{
    enum class Kind : quint8 { SecretKey, PublicToken };

    Kind kind = Kind::PublicToken;
    QStringList scopes;
    QByteArray credential; // the bearer value: the rate-limit bucket key; never logged

    bool isSecretKey() const { return kind == Kind::SecretKey; }
    bool can(QStringView action, const ScopeResource &resource) const;
    // Any of `resources` passes.
    bool canAny(QStringView action, const QList<ScopeResource> &resources) const;
    // Any of `alternatives` passes, or every one of `resources` does.
    bool canEvery(QStringView action, const QList<ScopeResource> &resources,
                  const QList<ScopeResource> &alternatives) const;
};

// Reads `Authorization: Bearer ...`: the environment's secret key, or a
// public access token (verified by TokenService). Errors are 401s worded as the
// webapp words them.
class ApiAuth
{
public:
    ApiAuth(QByteArray secretKey, const TokenService &tokens);

    Result<AuthContext> authenticate(QByteArrayView authorizationHeader) const;

private:
    QByteArray m_secretKey;
    const TokenService &m_tokens;
};

} // namespace sessionscope
