#pragma once

#include "net/resttransport.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <chrono>

namespace sessionscope {

// What a public access token says about itself. Decoded, not verified: the
// signature needs the environment secret, which a client does not have.
struct JwtClaims
{
    QString algorithm;
    QString subject; // the environment id
    bool isPublic = false;
    QStringList scopes;
    QString issuer;
    QStringList audience;
    QDateTime issuedAt;
    QDateTime expiresAt; // invalid when the token has no exp
    QJsonObject raw;

    // Run ids from `read:runs:<id>` scopes, in token order.
    QStringList runIds() const;
    // Session keys (externalId or friendly id) the token may read or write.
    QStringList sessionKeys(const QString &access = QStringLiteral("read")) const;
    bool hasScope(const QString &scope) const { return scopes.contains(scope); }
    bool isExpired(const QDateTime &now = QDateTime::currentDateTimeUtc()) const
    {
        return expiresAt.isValid() && expiresAt <= now;
    }

    static Result<JwtClaims> decode(QByteArrayView token);
};

// Keeps a session's public access token current: replaces it from the
// `public-access-token` header of turn-complete records, exposes its claims
// (scopes, expiry, the live run id from `read:runs:<id>`) and warns before it
// expires. The token itself never goes into a log or a signal argument.
class TokenManager : public QObject
{
    Q_OBJECT

public:
    explicit TokenManager(QObject *parent = nullptr);

    // Replaces the token when it decodes; a malformed token is refused with
    // the reason and the previous one stays.
    Result<JwtClaims> setToken(const QString &token, const QString &source = QStringLiteral("set"));
    void clear();

    bool hasToken() const { return !m_token.isEmpty(); }
    QString token() const { return m_token; }
    const JwtClaims &claims() const { return m_claims; }
    QString source() const { return m_source; }
    QString liveRunId() const { return m_liveRunId; }
    qint64 secondsRemaining(const QDateTime &now = QDateTime::currentDateTimeUtc()) const;

    // How long before expiry expiringSoon() fires (default five minutes).
    void setWarningLead(std::chrono::seconds lead);
    std::chrono::seconds warningLead() const { return m_warningLead; }

    // For RestTransport and subscriptions: always the current token.
    BearerSource bearerSource() const;

public Q_SLOTS:
    // Takes refreshed tokens from turn-complete control records.
    void observeRecords(const QList<sessionscope::StreamRecord> &records);

Q_SIGNALS:
    void tokenChanged(const sessionscope::JwtClaims &claims, const QString &source);
    void tokenRejected(const QString &reason);
    void liveRunIdChanged(const QString &runId, const QString &previousRunId);
    void expiringSoon(const QDateTime &expiresAt, qint64 secondsLeft);
    void expired(const QDateTime &expiresAt);

private:
    void schedule();
    void onWarnTimer();
    void onExpiryTimer();

    QString m_token;
    JwtClaims m_claims;
    QString m_source;
    QString m_liveRunId;
    std::chrono::seconds m_warningLead{300};
    QTimer m_warnTimer{this}; // children, so moveToThread takes them along
    QTimer m_expiryTimer{this};
    bool m_warned = false;
};

} // namespace sessionscope

