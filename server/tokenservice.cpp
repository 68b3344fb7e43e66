#include "server/tokenservice.h"

#include "net/saturate.h"
#include "server/wirejson.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QMessageAuthenticationCode>

namespace sessionscope {

namespace {

constexpr auto kB64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

const QString kDocs = QStringLiteral(
    " See https://trigger.dev/docs/frontend/overview#authentication for more information.");

Error invalid()
{
    return TokenService::unauthorized(QStringLiteral("Public Access Token is invalid.") + kDocs);
}

std::optional<Json> decodePart(QByteArrayView part)
{
    const auto decoded = QByteArray::fromBase64Encoding(
        part.toByteArray(), kB64 | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    auto json = wirejson::parse(*decoded);
    if (!json || !json->is_object())
        return std::nullopt;
    return json;
}

} // namespace

Error TokenService::unauthorized(const QString &message)
{
    Error e = Error::make(message);
    e.httpStatus = 401;
    return e;
}

bool TokenService::constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

TokenService::TokenService(QByteArray secretKey, QString environmentId)
    : m_secret(std::move(secretKey)), m_environmentId(std::move(environmentId))
{
}

QByteArray TokenService::sign(const QByteArray &headerJson, const QByteArray &payloadJson,
                              const QByteArray &key)
{
    const QByteArray signingInput = headerJson.toBase64(kB64) + '.' + payloadJson.toBase64(kB64);
    const QByteArray mac =
        QMessageAuthenticationCode::hash(signingInput, key, QCryptographicHash::Sha256);
    return signingInput + '.' + mac.toBase64(kB64);
}

QByteArray TokenService::mint(const QStringList &scopes, qint64 ttlSeconds) const
{
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    // Claim order as jose's SignJWT writes it: payload, then iss, aud, exp, iat.
    Json claims = Json::object();
    claims["sub"] = m_environmentId.toStdString();
    claims["pub"] = true;
    claims["scopes"] = wirejson::stringArray(scopes);
    claims["iss"] = Issuer;
    claims["aud"] = Audience;
    claims["exp"] = now + ttlSeconds;
    claims["iat"] = now;
    return sign(QByteArrayLiteral("{\"alg\":\"HS256\"}"), wirejson::dump(claims), m_secret);
}

QByteArray TokenService::mintSessionToken(const QString &addressingKey,
                                          const QStringList &extraScopes, qint64 ttlSeconds) const
{
    QStringList scopes{QStringLiteral("read:sessions:") + addressingKey,
                       QStringLiteral("write:sessions:") + addressingKey};
    scopes << extraScopes;
    return mint(scopes, ttlSeconds);
}

bool TokenService::looksLikePublicToken(QByteArrayView token)
{
    const auto parts = token.toByteArray().split('.');
    if (parts.size() != 3)
        return false;
    const auto payload = decodePart(parts.at(1));
    return payload && payload->contains("pub") && (*payload)["pub"] == true;
}

Result<TokenClaims> TokenService::verify(QByteArrayView token) const
{
    const QList<QByteArray> parts = token.toByteArray().split('.');
    if (parts.size() != 3)
        return invalid();
    const auto header = decodePart(parts.at(0));
    const auto payload = decodePart(parts.at(1));
    if (!header || !payload)
        return invalid();
    // Only HS256: "none" and every other algorithm are refused outright.
    if (!header->contains("alg") || (*header)["alg"] != "HS256")
        return invalid();
    const QByteArray signingInput = parts.at(0) + '.' + parts.at(1);
    const QByteArray expected =
        QMessageAuthenticationCode::hash(signingInput, m_secret, QCryptographicHash::Sha256);
    // Compared as text, not decoded: the last base64url character of a
    // 32-byte MAC has two spare bits, so decoding would accept four
    // spellings of one signature (a changed token that still verifies).
    if (!constantTimeEquals(parts.at(2), expected.toBase64(kB64)))
        return invalid();

    const Json &claims = *payload;
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    auto numberClaim = [&](const char *name) -> std::optional<qint64> {
        if (!claims.contains(name))
            return std::nullopt;
        const Json &v = claims[name];
        if (!v.is_number())
            return qint64(-1);
        return saturatedInt64(v.get<double>());
    };
    if (!claims.contains("iss") || claims["iss"] != Issuer)
        return invalid();
    const Json aud = claims.contains("aud") ? claims["aud"] : Json();
    const bool audOk =
        aud == Audience ||
        (aud.is_array() && std::find(aud.begin(), aud.end(), Json(Audience)) != aud.end());
    if (!audOk)
        return invalid();
    const auto exp = numberClaim("exp");
    if (exp && *exp < 0)
        return invalid();
    if (exp && *exp <= now)
        return TokenService::unauthorized(QStringLiteral("Public Access Token has expired.") +
                                          kDocs);
    if (const auto nbf = numberClaim("nbf"); nbf && (*nbf < 0 || *nbf > now))
        return invalid();
    if (const auto iat = numberClaim("iat"); iat && *iat < 0)
        return invalid();
    if (!claims.contains("sub") || !claims["sub"].is_string())
        return unauthorized(QStringLiteral("Invalid Public Access Token, missing subject."));
    if (QString::fromStdString(claims["sub"].get<std::string>()) != m_environmentId)
        return unauthorized(QStringLiteral("Invalid Public Access Token, environment not found."));
    if (!claims.contains("pub") || claims["pub"] != true)
        return invalid();

    TokenClaims out;
    out.subject = m_environmentId;
    if (claims.contains("scopes"))
        out.scopes = wirejson::toStringList(claims["scopes"]);
    out.issuedAt = numberClaim("iat").value_or(0);
    out.expiresAt = exp.value_or(0);
    return out;
}

} // namespace sessionscope
