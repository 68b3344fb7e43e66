#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace sessionscope {

// The verified claims of a public access token.
struct TokenClaims
{
    QString subject; // environment id
    QStringList scopes;
    qint64 issuedAt = 0;  // seconds
    qint64 expiresAt = 0; // seconds
};

// HS256 JSON Web Tokens signed with the environment's secret key, shaped like
// the ones Trigger.dev mints (header {"alg":"HS256"}; claims sub, pub, scopes,
// iss https://id.trigger.dev, aud https://api.trigger.dev, exp, iat).
class TokenService
{
public:
    static constexpr char Issuer[] = "https://id.trigger.dev";
    static constexpr char Audience[] = "https://api.trigger.dev";
    static constexpr qint64 DefaultTtlSeconds = 3600;

    TokenService(QByteArray secretKey, QString environmentId);

    QByteArray mint(const QStringList &scopes, qint64 ttlSeconds = DefaultTtlSeconds) const;
    // read:sessions:<key> + write:sessions:<key>, plus any extra scopes (e.g.
    // read:runs:<runId> on the token refreshed in a turn-complete).
    QByteArray mintSessionToken(const QString &addressingKey, const QStringList &extraScopes = {},
                                qint64 ttlSeconds = DefaultTtlSeconds) const;

    // Checks alg (HS256 only), signature, iss, aud, exp, nbf, sub and
    // pub:true. Errors carry 401 and the webapp's wording.
    Result<TokenClaims> verify(QByteArrayView token) const;

    // True when the token's payload says pub:true (no signature check), which
    // is how the webapp tells a public token from an API key.
    static bool looksLikePublicToken(QByteArrayView token);

    // Builds and signs a token from raw JSON parts (tests use it to forge bad
    // tokens: wrong alg, foreign key, missing claims).
    static QByteArray sign(const QByteArray &headerJson, const QByteArray &payloadJson,
                           const QByteArray &key);

    QString environmentId() const { return m_environmentId; }

    // A 401 Error with `message`.
    static Error unauthorized(const QString &message);
    // Compares secrets without leaking where they differ through timing.
    static bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

private:
    QByteArray m_secret;
    QString m_environmentId;
};

} // namespace sessionscope
