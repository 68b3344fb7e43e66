#include "net/tokenmanager.h"

#include "net/saturate.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QPointer>

#include <algorithm>

namespace sessionscope {

namespace {

// QTimer takes an int of milliseconds; far expiries are re-armed in steps.
constexpr qint64 MaxTimerMs = 24LL * 24 * 3600 * 1000;

Result<QJsonObject> decodeSegment(QByteArrayView segment, const char *what)
{
    const auto decoded = QByteArray::fromBase64Encoding(segment.toByteArray(),
                                                        QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals |
                                                            QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return Error::make(QStringLiteral("The token's %1 is not base64url").arg(QLatin1String(what)));
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(*decoded, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return Error::make(QStringLiteral("The token's %1 is not a JSON object").arg(QLatin1String(what)));
    return doc.object();
}

QDateTime epochSeconds(const QJsonValue &v)
{
    if (!v.isDouble())
        return {};
    return QDateTime::fromSecsSinceEpoch(saturatedInt64(v.toDouble()), Qt::UTC);
}

void arm(QTimer &timer, qint64 ms)
{
    timer.start(int(std::clamp<qint64>(ms, 0, MaxTimerMs)));
}

} // namespace

QStringList JwtClaims::runIds() const
{
    static const QString prefix = QStringLiteral("read:runs:");
    QStringList ids;
    for (const QString &s : scopes) {
        if (s.startsWith(prefix) && s.size() > prefix.size())
            ids.append(s.mid(prefix.size()));
    }
    return ids;
}

QStringList JwtClaims::sessionKeys(const QString &access) const
{
    const QString prefix = access + QStringLiteral(":sessions:");
    QStringList keys;
    for (const QString &s : scopes) {
        if (s.startsWith(prefix) && s.size() > prefix.size())
            keys.append(s.mid(prefix.size()));
    }
    return keys;
}

Result<JwtClaims> JwtClaims::decode(QByteArrayView token)
{
    const QByteArrayView trimmed = token.trimmed();
    if (trimmed.isEmpty())
        return Error::make(QStringLiteral("The token is empty"));
    const QList<QByteArray> parts = trimmed.toByteArray().split('.');
    if (parts.size() != 3)
        return Error::make(QStringLiteral("The token is not a JWT (expected three dot-separated parts, got %1)")
                               .arg(parts.size()));
    const auto header = decodeSegment(parts[0], "header");
    if (!header)
        return header.error();
    const auto payload = decodeSegment(parts[1], "payload");
    if (!payload)
        return payload.error();

    JwtClaims c;
    c.algorithm = header->value(QStringLiteral("alg")).toString();
    c.raw = *payload;
    c.subject = payload->value(QStringLiteral("sub")).toString();
    c.isPublic = payload->value(QStringLiteral("pub")).toBool();
    c.issuer = payload->value(QStringLiteral("iss")).toString();
    const QJsonValue aud = payload->value(QStringLiteral("aud"));
    if (aud.isString())
        c.audience = QStringList{aud.toString()};
    else
        for (const QJsonValue &v : aud.toArray())
            c.audience.append(v.toString());
    const QJsonValue scopes = payload->value(QStringLiteral("scopes"));
    if (!scopes.isUndefined() && !scopes.isArray())
        return Error::make(QStringLiteral("The token's scopes claim is not an array"));
    for (const QJsonValue &v : scopes.toArray()) {
        if (!v.isString())
            return Error::make(QStringLiteral("The token's scopes claim holds a value that is not a string"));
        c.scopes.append(v.toString());
    }
    c.issuedAt = epochSeconds(payload->value(QStringLiteral("iat")));
    c.expiresAt = epochSeconds(payload->value(QStringLiteral("exp")));
    if (payload->contains(QStringLiteral("exp")) && !c.expiresAt.isValid())
        return Error::make(
            QStringLiteral("The token's exp claim is not a time (a number of seconds in range)"));
    return c;
}

TokenManager::TokenManager(QObject *parent) : QObject(parent)
{
    m_warnTimer.setSingleShot(true);
    m_expiryTimer.setSingleShot(true);
    connect(&m_warnTimer, &QTimer::timeout, this, &TokenManager::onWarnTimer);
    connect(&m_expiryTimer, &QTimer::timeout, this, &TokenManager::onExpiryTimer);
}

Result<JwtClaims> TokenManager::setToken(const QString &token, const QString &source)
{
    auto claims = JwtClaims::decode(token.toUtf8());
    if (!claims) {
        Q_EMIT tokenRejected(QStringLiteral("%1 (from %2)").arg(claims.error().message, source));
        return claims;
    }
    m_token = token.trimmed();
    m_claims = *claims;
    m_source = source;
    m_warned = false;
    schedule();
    Q_EMIT tokenChanged(m_claims, m_source);
    const QStringList runs = m_claims.runIds();
    if (!runs.isEmpty() && runs.last() != m_liveRunId) {
        const QString previous = m_liveRunId;
        m_liveRunId = runs.last();
        Q_EMIT liveRunIdChanged(m_liveRunId, previous);
    }
    return claims;
}

void TokenManager::clear()
{
    m_token.clear();
    m_claims = {};
    m_source.clear();
    m_liveRunId.clear();
    m_warnTimer.stop();
    m_expiryTimer.stop();
}

qint64 TokenManager::secondsRemaining(const QDateTime &now) const
{
    if (!m_claims.expiresAt.isValid())
        return -1;
    return qMax<qint64>(0, now.secsTo(m_claims.expiresAt));
}

void TokenManager::setWarningLead(std::chrono::seconds lead)
{
    m_warningLead = std::max(lead, std::chrono::seconds(0));
    m_warned = false;
    schedule();
}

BearerSource TokenManager::bearerSource() const
{
    QPointer<const TokenManager> self(this);
    return [self] { return self ? self->token() : QString(); };
}

void TokenManager::observeRecords(const QList<StreamRecord> &records)
{
    for (const StreamRecord &r : records) {
        if (r.kind != RecordKind::Control || r.subtype() != "turn-complete")
            continue;
        if (const auto jwt = r.header("public-access-token"); jwt && !jwt->isEmpty())
            setToken(QString::fromUtf8(*jwt), QStringLiteral("turn-complete at seq %1").arg(r.seqNum));
    }
}

void TokenManager::schedule()
{
    m_warnTimer.stop();
    m_expiryTimer.stop();
    if (m_token.isEmpty() || !m_claims.expiresAt.isValid())
        return;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const qint64 toExpiry = now.msecsTo(m_claims.expiresAt);
    if (!m_warned)
        arm(m_warnTimer, toExpiry - qint64(m_warningLead.count()) * 1000);
    arm(m_expiryTimer, toExpiry);
}

void TokenManager::onWarnTimer()
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const qint64 leadMs = qint64(m_warningLead.count()) * 1000;
    if (now.msecsTo(m_claims.expiresAt) > leadMs) {
        schedule(); // a far expiry, re-armed in steps
        return;
    }
    m_warned = true;
    Q_EMIT expiringSoon(m_claims.expiresAt, secondsRemaining(now));
}

void TokenManager::onExpiryTimer()
{
    if (QDateTime::currentDateTimeUtc() < m_claims.expiresAt) {
        schedule();
        return;
    }
    Q_EMIT expired(m_claims.expiresAt);
}

} // namespace sessionscope
