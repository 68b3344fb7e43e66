#include "net/profilestore.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QPointer>
#include <QSaveFile>
#include <QStandardPaths>
#include <QTimer>

#include <qt6keychain/keychain.h>

#include <memory>

namespace sessionscope {

namespace {

constexpr int FormatVersion = 1;

// Written through QSaveFile (atomic replace); for secrets the temporary file
// is made owner-only before a byte of the key is written to it.
Result<void> writeFile(const QString &path, const QByteArray &bytes, bool ownerOnly)
{
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return Error::make(QStringLiteral("Cannot create the folder for %1").arg(path));
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return Error::make(QStringLiteral("Cannot write %1: %2").arg(path, file.errorString()));
    if (ownerOnly && !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner))
        return Error::make(QStringLiteral("Cannot restrict %1 to its owner: %2").arg(path, file.errorString()));
    if (file.write(bytes) != bytes.size() || !file.commit())
        return Error::make(QStringLiteral("Cannot write %1: %2").arg(path, file.errorString()));
    return {};
}

Result<QJsonObject> readJsonObject(const QString &path)
{
    QFile file(path);
    if (!file.exists())
        return QJsonObject();
    if (!file.open(QIODevice::ReadOnly))
        return Error::make(QStringLiteral("Cannot read %1: %2").arg(path, file.errorString()));
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return Error::make(QStringLiteral("%1 is not a valid JSON object (%2 at offset %3)")
                               .arg(path, err.errorString())
                               .arg(err.offset));
    return doc.object();
}

// Runs a keychain job and answers exactly once: with its result, or with a
// timeout when the keychain service never replies (a D-Bus without a secret
// service can leave a job hanging).
void runJob(QKeychain::Job *job, std::chrono::milliseconds timeout, QObject *owner,
            std::function<void(QKeychain::Error, QString, QString)> answer)
{
    auto answered = std::make_shared<bool>(false);
    auto timer = new QTimer(owner);
    timer->setSingleShot(true);
    QObject::connect(job, &QKeychain::Job::finished, owner, [answered, answer, timer](QKeychain::Job *j) {
        timer->deleteLater();
        if (std::exchange(*answered, true))
            return;
        QString data;
        if (auto *read = qobject_cast<QKeychain::ReadPasswordJob *>(j))
            data = read->textData();
        answer(j->error(), j->errorString(), data);
    });
    QObject::connect(timer, &QTimer::timeout, owner, [answered, answer, timer, timeout] {
        timer->deleteLater();
        if (std::exchange(*answered, true))
            return;
        answer(QKeychain::OtherError,
               QStringLiteral("the keychain service did not answer within %1 ms").arg(timeout.count()), {});
    });
    job->setAutoDelete(true);
    timer->start(timeout);
    job->start();
}

bool keychainMissing(QKeychain::Error error)
{
    return error == QKeychain::NoBackendAvailable || error == QKeychain::NotImplemented ||
           error == QKeychain::OtherError || error == QKeychain::AccessDenied;
}

template <typename T>
void answerLater(QObject *owner, QObject *context, ResultCallback<T> done, Result<T> result)
{
    QPointer<QObject> guard(context);
    QMetaObject::invokeMethod(
        owner,
        [guard, hasContext = context != nullptr, done = std::move(done), result = std::move(result)]() mutable {
            if (done && (!hasContext || guard))
                done(std::move(result));
        },
        Qt::QueuedConnection);
}

} // namespace

ProfileStore::ProfileStore(const QString &directory, QObject *parent) : QObject(parent), m_directory(directory) {}

QString ProfileStore::defaultDirectory()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) + QStringLiteral("/sessionscope");
}

QString ProfileStore::profilesPath() const
{
    return m_directory + QStringLiteral("/profiles.json");
}

QString ProfileStore::secretsPath() const
{
    return m_directory + QStringLiteral("/secrets.json");
}

Result<void> ProfileStore::load()
{
    const auto object = readJsonObject(profilesPath());
    if (!object)
        return object.error();
    QList<ConnectionProfile> loaded;
    if (object->isEmpty()) {
        loaded.append(ConnectionProfile::cloud());
    } else {
        const int version = object->value(QStringLiteral("version")).toInt();
        if (version != FormatVersion)
            return Error::make(QStringLiteral("%1 has format version %2; this build reads version %3")
                                   .arg(profilesPath())
                                   .arg(version)
                                   .arg(FormatVersion));
        for (const QJsonValue &v : object->value(QStringLiteral("profiles")).toArray()) {
            auto p = ConnectionProfile::fromJson(v.toObject());
            if (!p)
                return Error::make(QStringLiteral("%1: %2").arg(profilesPath(), p.error().message));
            loaded.append(*p);
        }
    }
    m_profiles = loaded;
    m_default = object->value(QStringLiteral("default")).toString();
    if (!profile(m_default))
        m_default = m_profiles.isEmpty() ? QString() : m_profiles.first().name;
    Q_EMIT profilesChanged();
    return {};
}

Result<void> ProfileStore::save() const
{
    QJsonArray list;
    for (const ConnectionProfile &p : m_profiles)
        list.append(p.toJson());
    const QJsonObject o{{QStringLiteral("version"), FormatVersion},
                        {QStringLiteral("default"), m_default},
                        {QStringLiteral("profiles"), list}};
    return writeFile(profilesPath(), QJsonDocument(o).toJson(QJsonDocument::Indented), false);
}

ConnectionProfile *ProfileStore::find(const QString &name)
{
    for (ConnectionProfile &p : m_profiles) {
        if (p.name == name)
            return &p;
    }
    return nullptr;
}

std::optional<ConnectionProfile> ProfileStore::profile(const QString &name) const
{
    for (const ConnectionProfile &p : m_profiles) {
        if (p.name == name)
            return p;
    }
    return std::nullopt;
}

Result<void> ProfileStore::upsert(const ConnectionProfile &profile)
{
    if (auto v = profile.validate(); !v)
        return v;
    ConnectionProfile stored = profile;
    stored.secretKey.clear(); // keys travel through storeSecretKey only
    if (ConnectionProfile *existing = find(profile.name)) {
        // Where the key lives is the store's business, not the caller's.
        stored.secretStorage = existing->secretStorage;
        stored.secretStorageNote = existing->secretStorageNote;
        *existing = stored;
    } else {
        stored.secretStorage = SecretStorage::None;
        stored.secretStorageNote.clear();
        m_profiles.append(stored);
    }
    if (m_default.isEmpty())
        m_default = profile.name;
    Q_EMIT profilesChanged();
    return save();
}

Result<void> ProfileStore::remove(const QString &name)
{
    const ConnectionProfile *p = find(name);
    if (!p)
        return Error::make(QStringLiteral("There is no profile named \"%1\"").arg(name));
    const bool inKeychain = p->secretStorage == SecretStorage::Keychain;
    m_profiles.removeIf([&name](const ConnectionProfile &q) { return q.name == name; });
    if (m_default == name)
        m_default = m_profiles.isEmpty() ? QString() : m_profiles.first().name;
    if (auto r = removeFromFile(name); !r)
        return r;
    if (inKeychain && m_keychainMode == KeychainMode::Auto) {
        auto *job = new QKeychain::DeletePasswordJob(m_service);
        job->setKey(name);
        runJob(job, m_keychainTimeout, this, [](QKeychain::Error, QString, QString) {});
    }
    Q_EMIT profilesChanged();
    return save();
}

Result<void> ProfileStore::setDefaultProfile(const QString &name)
{
    if (!profile(name))
        return Error::make(QStringLiteral("There is no profile named \"%1\"").arg(name));
    m_default = name;
    Q_EMIT profilesChanged();
    return save();
}

void ProfileStore::settleStored(const QString &name, SecretStorage storage, const QString &note)
{
    if (ConnectionProfile *p = find(name)) {
        p->secretStorage = storage;
        p->secretStorageNote = note;
    }
    Q_EMIT profilesChanged();
}

void ProfileStore::storeSecretKey(const QString &name, const QString &key, QObject *context,
                                  ResultCallback<SecretStorage> done)
{
    if (!find(name)) {
        answerLater<SecretStorage>(this, context, std::move(done),
                                   Error::make(QStringLiteral("There is no profile named \"%1\"").arg(name)));
        return;
    }
    if (key.trimmed().isEmpty()) {
        answerLater<SecretStorage>(this, context, std::move(done),
                                   Error::make(QStringLiteral("The secret key is empty")));
        return;
    }
    const auto toFile = [this, name, key](const QString &why) -> Result<SecretStorage> {
        if (auto r = storeInFile(name, key); !r)
            return r.error();
        settleStored(name, SecretStorage::File,
                     QStringLiteral("%1; the key is stored in %2 (mode 0600)").arg(why, secretsPath()));
        if (auto r = save(); !r)
            return r.error();
        return SecretStorage::File;
    };
    if (m_keychainMode == KeychainMode::Off) {
        answerLater<SecretStorage>(this, context, std::move(done), toFile(QStringLiteral("The keychain is turned off")));
        return;
    }
    auto *job = new QKeychain::WritePasswordJob(m_service);
    job->setKey(name);
    job->setTextData(key);
    QPointer<QObject> guard(context);
    runJob(job, m_keychainTimeout, this,
           [this, name, toFile, guard, hasContext = context != nullptr, done = std::move(done)](
               QKeychain::Error error, QString errorString, QString) {
               Result<SecretStorage> result = SecretStorage::Keychain;
               if (error == QKeychain::NoError) {
                   settleStored(name, SecretStorage::Keychain, {});
                   if (auto r = removeFromFile(name); !r)
                       result = r.error();
                   else if (auto s = save(); !s)
                       result = s.error();
               } else if (keychainMissing(error)) {
                   const QString why = QStringLiteral("No keychain service is available (%1)").arg(errorString);
                   Q_EMIT keychainUnavailable(why);
                   result = toFile(why);
               } else {
                   result = Error::make(QStringLiteral("The keychain refused the key: %1").arg(errorString));
               }
               if (done && (!hasContext || guard))
                   done(std::move(result));
           });
}

void ProfileStore::readSecretKey(const QString &name, QObject *context, ResultCallback<QString> done)
{
    const ConnectionProfile *p = find(name);
    if (!p) {
        answerLater<QString>(this, context, std::move(done),
                             Error::make(QStringLiteral("There is no profile named \"%1\"").arg(name)));
        return;
    }
    if (p->secretStorage != SecretStorage::Keychain || m_keychainMode == KeychainMode::Off) {
        answerLater<QString>(this, context, std::move(done), readFromFile(name));
        return;
    }
    auto *job = new QKeychain::ReadPasswordJob(m_service);
    job->setKey(name);
    QPointer<QObject> guard(context);
    runJob(job, m_keychainTimeout, this,
           [name, guard, hasContext = context != nullptr, done = std::move(done)](QKeychain::Error error,
                                                                                   QString errorString, QString data) {
               Result<QString> result = data;
               if (error != QKeychain::NoError)
                   result = Error::make(QStringLiteral("Cannot read the key of profile \"%1\" from the keychain: %2")
                                            .arg(name, errorString));
               if (done && (!hasContext || guard))
                   done(std::move(result));
           });
}

void ProfileStore::resolve(const QString &name, QObject *context, ResultCallback<ConnectionProfile> done)
{
    const auto p = profile(name);
    if (!p) {
        answerLater<ConnectionProfile>(this, context, std::move(done),
                                       Error::make(QStringLiteral("There is no profile named \"%1\"").arg(name)));
        return;
    }
    readSecretKey(name, context, [p = *p, done = std::move(done)](Result<QString> key) mutable {
        if (!key) {
            done(key.error());
            return;
        }
        p.secretKey = *key;
        done(std::move(p));
    });
}

Result<QJsonObject> ProfileStore::readSecrets() const
{
    auto secrets = readJsonObject(secretsPath());
    if (!secrets)
        return secrets.error();
    const QFile::Permissions loose = QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ReadOther |
                                     QFileDevice::WriteOther;
    if (QFile::exists(secretsPath()) && (QFile::permissions(secretsPath()) & loose))
        return Error::make(QStringLiteral("%1 is readable by other users; run chmod 600 on it and try again")
                               .arg(secretsPath()));
    return secrets;
}

Result<void> ProfileStore::storeInFile(const QString &name, const QString &key)
{
    auto secrets = readJsonObject(secretsPath());
    if (!secrets)
        return secrets.error();
    secrets->insert(name, key);
    return writeFile(secretsPath(), QJsonDocument(*secrets).toJson(QJsonDocument::Indented), true);
}

Result<QString> ProfileStore::readFromFile(const QString &name) const
{
    const auto secrets = readSecrets();
    if (!secrets)
        return secrets.error();
    const QString key = secrets->value(name).toString();
    if (key.isEmpty())
        return Error::make(QStringLiteral("Profile \"%1\" has no stored secret key").arg(name));
    return key;
}

Result<void> ProfileStore::removeFromFile(const QString &name)
{
    auto secrets = readJsonObject(secretsPath());
    if (!secrets)
        return secrets.error();
    if (!secrets->contains(name))
        return {};
    secrets->remove(name);
    return writeFile(secretsPath(), QJsonDocument(*secrets).toJson(QJsonDocument::Indented), true);
}

} // namespace sessionscope
