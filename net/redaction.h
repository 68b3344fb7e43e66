#pragma once

#include <QByteArray>
#include <QString>
#include <QUrl>

namespace sessionscope {

// Keys and tokens never reach a log line: every debug print in net/ passes
// through these. They mask bearer credentials, secret keys (tr_*_...), JWTs
// and token-carrying header values, keeping a short prefix so two different
// credentials can still be told apart in a log.
QString redactSecrets(const QString &text);
QByteArray redactHeaderValue(QByteArrayView name, const QByteArray &value);
QString redactUrl(const QUrl &url);

// "eyJhbGci…[redacted]": what a credential looks like in a log or a UI label.
QString maskCredential(const QString &credential);

} // namespace sessionscope
