#include "net/redaction.h"

#include <QRegularExpression>

namespace sessionscope {

namespace {

bool isSecretHeader(QByteArrayView name)
{
    static const QByteArray names[] = {"authorization", "proxy-authorization", "public-access-token",
                                       "x-trigger-jwt", "cookie", "set-cookie", "x-api-key"};
    const QByteArray lower = name.toByteArray().toLower();
    for (const QByteArray &n : names) {
        if (lower == n)
            return true;
    }
    return false;
}

} // namespace

QString maskCredential(const QString &credential)
{
    if (credential.isEmpty())
        return {};
    // Prefixes like "tr_dev_" or "eyJhbGci" say what kind of credential it is
    // without giving away anything secret.
    const qsizetype keep = qMin<qsizetype>(6, credential.size() / 4);
    return credential.left(keep) + QStringLiteral("…[redacted]");
}

QString redactSecrets(const QString &text)
{
    static const QRegularExpression patterns[] = {
        // Authorization: Bearer <anything up to whitespace or quote>
        QRegularExpression(QStringLiteral(R"re((?i)(bearer\s+)([^\s"',;]+))re")),
        // JSON fields that hold tokens or keys.
        QRegularExpression(QStringLiteral(
            R"re((?i)("(?:publicAccessToken|accessToken|token|secretKey|apiKey|key|jwt)"\s*:\s*")([^"]+))re")),
        // Trigger.dev style secret keys and JWTs anywhere in free text.
        QRegularExpression(QStringLiteral(R"re(()(tr_[a-z]+_[A-Za-z0-9_\-]{4,}))re")),
        QRegularExpression(QStringLiteral(R"re(()(eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*))re")),
        // URL query credentials (EventSource clients put tokens there).
        QRegularExpression(QStringLiteral(R"re((?i)([?&](?:token|access_token|key)=)([^&\s]+))re")),
    };
    QString out = text;
    for (const QRegularExpression &re : patterns) {
        QString result;
        qsizetype last = 0;
        auto it = re.globalMatch(out);
        while (it.hasNext()) {
            const auto m = it.next();
            result += QStringView(out).mid(last, m.capturedStart(2) - last);
            result += maskCredential(m.captured(2));
            last = m.capturedEnd(2);
        }
        if (last > 0) {
            result += QStringView(out).mid(last);
            out = result;
        }
    }
    return out;
}

QByteArray redactHeaderValue(QByteArrayView name, const QByteArray &value)
{
    if (isSecretHeader(name))
        return maskCredential(QString::fromLatin1(value)).toUtf8();
    return redactSecrets(QString::fromLatin1(value)).toUtf8();
}

QString redactUrl(const QUrl &url)
{
    return redactSecrets(url.toString(QUrl::RemoveUserInfo));
}

} // namespace sessionscope
