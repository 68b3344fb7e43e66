#include "server/secretkeyfile.h"

#include "server/idgenerator.h"

#include <QDir>
#include <QFile>

namespace sessionscope {

QString SecretKeyFile::pathIn(const QString &dataDir)
{
    return QDir(dataDir).filePath(QStringLiteral("secret-key"));
}

Result<QString> SecretKeyFile::loadOrCreate(const QString &dataDir, bool *created)
{
    if (created)
        *created = false;
    const QString path = pathIn(dataDir);
    QFile file(path);
    if (file.exists()) {
        if (!file.open(QIODevice::ReadOnly))
            return Error::make(QStringLiteral("Cannot read the secret key file %1: %2")
                                   .arg(path, file.errorString()));
        const QString key = QString::fromUtf8(file.readAll()).trimmed();
        if (key.size() < 16)
            return Error::make(
                QStringLiteral(
                    "The secret key file %1 is empty or too short; delete it to generate a "
                    "new key")
                    .arg(path));
        return key;
    }
    if (!QDir().mkpath(dataDir))
        return Error::make(QStringLiteral("Cannot create the data directory %1").arg(dataDir));
    if (!file.open(QIODevice::WriteOnly | QIODevice::NewOnly))
        return Error::make(QStringLiteral("Cannot create the secret key file %1: %2")
                               .arg(path, file.errorString()));
    // Owner-only before anything secret is in it.
    if (!file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)) {
        file.remove();
        return Error::make(QStringLiteral("Cannot restrict the permissions of %1").arg(path));
    }
    const QString key = IdGenerator::secretKey();
    const QByteArray bytes = key.toUtf8() + '\n';
    if (file.write(bytes) != bytes.size() || !file.flush()) {
        const QString why = file.errorString();
        file.close();
        file.remove();
        return Error::make(
            QStringLiteral("Cannot write the secret key file %1: %2").arg(path, why));
    }
    file.close();
    if (created)
        *created = true;
    return key;
}

} // namespace sessionscope
