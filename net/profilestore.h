#pragma once

#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"

#include <QList>
#include <QObject>
#include <QString>

#include <chrono>
#include <optional>

namespace sessionscope {

// Named connection profiles in <directory>/profiles.json. Secret keys go to
// the system keychain (QtKeychain); where no keychain service runs (CI,
// headless), they go to <directory>/secrets.json with mode 0600 and the
// profile's secretStorageNote says so. Keychain access is asynchronous.
class ProfileStore : public QObject
{
    Q_OBJECT

public:
    enum class KeychainMode { Auto, Off };
    Q_ENUM(KeychainMode)

    explicit ProfileStore(const QString &directory = defaultDirectory(), QObject *parent = nullptr);

    // $XDG_CONFIG_HOME/sessionscope (or the platform's equivalent).
    static QString defaultDirectory();
    QString directory() const { return m_directory; }
    QString profilesPath() const;
    QString secretsPath() const;

    // Off stores keys in the file only (a --no-keychain switch, tests).
    void setKeychainMode(KeychainMode mode) { m_keychainMode = mode; }
    void setKeychainService(const QString &service) { m_service = service; }
    // A keychain that does not answer in this time counts as unavailable.
    void setKeychainTimeout(std::chrono::milliseconds timeout) { m_keychainTimeout = timeout; }

    // Reads profiles.json; a missing file gives the Trigger.dev cloud profile.
    Result<void> load();
    Result<void> save() const;

    QList<ConnectionProfile> profiles() const { return m_profiles; }
    std::optional<ConnectionProfile> profile(const QString &name) const;
    Result<void> upsert(const ConnectionProfile &profile);
    // Forgets the profile and its key (from the file and the keychain).
    Result<void> remove(const QString &name);
    QString defaultProfile() const { return m_default; }
    Result<void> setDefaultProfile(const QString &name);

    // Stores the key of an existing profile; answers where it went.
    void storeSecretKey(const QString &name, const QString &key, QObject *context, ResultCallback<SecretStorage> done);
    void readSecretKey(const QString &name, QObject *context, ResultCallback<QString> done);
    // The profile with its secret key filled in, ready for a client.
    void resolve(const QString &name, QObject *context, ResultCallback<ConnectionProfile> done);

Q_SIGNALS:
    void profilesChanged();
    void keychainUnavailable(const QString &reason);

private:
    ConnectionProfile *find(const QString &name);
    Result<void> storeInFile(const QString &name, const QString &key);
    Result<QString> readFromFile(const QString &name) const;
    Result<void> removeFromFile(const QString &name);
    Result<QJsonObject> readSecrets() const;
    void settleStored(const QString &name, SecretStorage storage, const QString &note);

    QString m_directory;
    QList<ConnectionProfile> m_profiles;
    QString m_default;
    KeychainMode m_keychainMode = KeychainMode::Auto;
    QString m_service = QStringLiteral("sessionscope");
    std::chrono::milliseconds m_keychainTimeout{5000};
};

} // namespace sessionscope
