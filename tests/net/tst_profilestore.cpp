#include "net/connectionprofile.h"
#include "net/profilestore.h"
#include "net/redaction.h"

#include "awaitresult.h"

#include <QFile>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace sessionscope;


class TestProfileStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void freshStoreHasCloudProfile()
    {
        QTemporaryDir dir;
        ProfileStore store(dir.path());
        QVERIFY(store.load().ok());
        QCOMPARE(store.profiles().size(), 1);
        const ConnectionProfile cloud = store.profiles().first();
        QCOMPARE(cloud.kind, BackendKind::Cloud);
        QCOMPARE(cloud.baseUrl, QUrl(QStringLiteral("https://api.trigger.dev")));
        QCOMPARE(store.defaultProfile(), cloud.name);
        for (auto family : {EndpointFamily::Sessions, EndpointFamily::In, EndpointFamily::Out, EndpointFamily::Auth})
            QCOMPARE(cloud.endpoint(family), cloud.baseUrl);
    }

    void endpointFamiliesAndUrls()
    {
        ConnectionProfile p = ConnectionProfile::selfHosted(QStringLiteral("edge"), QUrl("https://trigger.example.com/base/"));
        p.endpointOverrides.insert(EndpointFamily::In, QUrl("https://edge.example.com"));
        p.endpointOverrides.insert(EndpointFamily::Sessions, QUrl("https://edge.example.com/proxy"));
        QVERIFY(p.validate().ok());
        QCOMPARE(p.url(EndpointFamily::Out, {"realtime", "v1", "sessions", "chat/1?x", "out"}).toString(QUrl::FullyEncoded),
                 QStringLiteral("https://trigger.example.com/base/realtime/v1/sessions/chat%2F1%3Fx/out"));
        QCOMPARE(p.url(EndpointFamily::In, {"realtime", "v1", "sessions", "s", "in", "append"}).toString(),
                 QStringLiteral("https://edge.example.com/realtime/v1/sessions/s/in/append"));
        const QUrl list = p.url(EndpointFamily::Sessions, {"api", "v1", "sessions"},
                                {{"filter[tags]", "a+b,c d"}, {"page[size]", "5"}});
        QCOMPARE(list.toString(QUrl::FullyEncoded),
                 QStringLiteral("https://edge.example.com/proxy/api/v1/sessions?filter[tags]=a%2Bb%2Cc%20d&page[size]=5"));
    }

    void invalidProfilesAreRefusedWithReasons_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no name") << "" << "https://x.example" << "needs a name";
        QTest::newRow("scheme") << "p" << "ftp://x.example" << "must be http:// or https://";
        QTest::newRow("no host") << "p" << "not a url" << "not a valid URL";
        QTest::newRow("credentials") << "p" << "https://user:pw@x.example" << "must not carry credentials";
        QTest::newRow("query") << "p" << "https://x.example/?a=1" << "query";
    }

    void invalidProfilesAreRefusedWithReasons()
    {
        QFETCH(QString, name);
        QFETCH(QString, url);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        ProfileStore store(dir.path());
        QVERIFY(store.load().ok());
        const auto r = store.upsert(ConnectionProfile::selfHosted(name, QUrl(url)));
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(expected), describe(r).constData());
        QVERIFY(!r.error().message.contains(QLatin1String("pw")));
    }

    void profilesSurviveReload()
    {
        QTemporaryDir dir;
        {
            ProfileStore store(dir.path());
            QVERIFY(store.load().ok());
            ConnectionProfile p = ConnectionProfile::selfHosted(QStringLiteral("mine"), QUrl("http://127.0.0.1:3030"));
            p.endpointOverrides.insert(EndpointFamily::Out, QUrl("http://127.0.0.1:3040"));
            p.secretKey = QStringLiteral("tr_dev_must_not_be_written");
            QVERIFY(store.upsert(p).ok());
            QVERIFY(store.upsert(ConnectionProfile::embedded(QStringLiteral("local"), QUrl("http://127.0.0.1:9")))
                        .ok());
            QVERIFY(store.setDefaultProfile(QStringLiteral("mine")).ok());
            QVERIFY(!store.setDefaultProfile(QStringLiteral("nope")).ok());
        }
        QFile file(dir.filePath(QStringLiteral("profiles.json")));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(!file.readAll().contains("tr_dev_must_not_be_written"));

        ProfileStore again(dir.path());
        QVERIFY(again.load().ok());
        QCOMPARE(again.profiles().size(), 3);
        QCOMPARE(again.defaultProfile(), QStringLiteral("mine"));
        const auto mine = again.profile(QStringLiteral("mine"));
        QVERIFY(mine);
        QCOMPARE(mine->kind, BackendKind::SelfHosted);
        QCOMPARE(mine->endpoint(EndpointFamily::Out), QUrl("http://127.0.0.1:3040"));
        QCOMPARE(mine->endpoint(EndpointFamily::In), QUrl("http://127.0.0.1:3030"));
        QVERIFY(mine->secretKey.isEmpty());
        QCOMPARE(again.profile(QStringLiteral("local"))->kind, BackendKind::Embedded);
    }

    void corruptFilesGiveClearErrors()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(QStringLiteral("profiles.json")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("{\"version\":1,\"profiles\":[{\"name\":\"x\",\"kind\":\"quantum\",\"baseUrl\":\"http://a\"}]}");
        file.close();
        ProfileStore store(dir.path());
        auto r = store.load();
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("unknown kind")), describe(r).constData());

        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("{\"version\":1,\"profiles\":[");
        file.close();
        r = store.load();
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("profiles.json")), describe(r).constData());

        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("{\"version\":7,\"profiles\":[]}");
        file.close();
        r = store.load();
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("version 7")), describe(r).constData());
    }

    void keyInPrivateFileWhenKeychainIsOff()
    {
        QTemporaryDir dir;
        ProfileStore store(dir.path());
        store.setKeychainMode(ProfileStore::KeychainMode::Off);
        QVERIFY(store.load().ok());
        QVERIFY(store.upsert(ConnectionProfile::selfHosted(QStringLiteral("p"), QUrl("http://127.0.0.1:1"))).ok());
        const QString key = QStringLiteral("tr_dev_secret_0123456789");
        auto stored = awaitResult<SecretStorage>([&](auto done) { store.storeSecretKey(QStringLiteral("p"), key, nullptr, done); });
        QVERIFY2(stored.ok(), describe(stored).constData());
        QCOMPARE(*stored, SecretStorage::File);
        const auto profile = store.profile(QStringLiteral("p"));
        QCOMPARE(profile->secretStorage, SecretStorage::File);
        QVERIFY(profile->secretStorageNote.contains(store.secretsPath()));
        QVERIFY(profile->secretStorageNote.contains(QLatin1String("0600")));
        const QFile::Permissions perms = QFile::permissions(store.secretsPath());
        QVERIFY(perms.testFlags(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
        QCOMPARE(perms & (QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ReadOther |
                          QFileDevice::WriteOther | QFileDevice::ExeOwner),
                 QFileDevice::Permissions());

        // A second store (another process) reads it back.
        ProfileStore again(dir.path());
        again.setKeychainMode(ProfileStore::KeychainMode::Off);
        QVERIFY(again.load().ok());
        auto resolved = awaitResult<ConnectionProfile>([&](auto done) { again.resolve(QStringLiteral("p"), nullptr, done); });
        QVERIFY(resolved.ok());
        QCOMPARE(resolved->secretKey, key);
        QCOMPARE(resolved->secretStorage, SecretStorage::File);

        // Loosened permissions are refused, not read.
        QVERIFY(QFile::setPermissions(store.secretsPath(), QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                                               QFileDevice::ReadOther));
        auto loose = awaitResult<QString>([&](auto done) { again.readSecretKey(QStringLiteral("p"), nullptr, done); });
        QVERIFY(!loose.ok());
        QVERIFY2(loose.error().message.contains(QLatin1String("chmod 600")), describe(loose).constData());
        QVERIFY(QFile::setPermissions(store.secretsPath(), QFileDevice::ReadOwner | QFileDevice::WriteOwner));

        // Removing the profile removes its key.
        QVERIFY(again.remove(QStringLiteral("p")).ok());
        QFile secrets(store.secretsPath());
        QVERIFY(secrets.open(QIODevice::ReadOnly));
        QVERIFY(!secrets.readAll().contains(key.toUtf8()));
    }

    void keychainOrSaidFallback()
    {
        // Whatever this machine has: a keychain that works, or none, in which
        // case the key must land in the 0600 file and the profile say why.
        QTemporaryDir dir;
        ProfileStore store(dir.path());
        store.setKeychainService(QStringLiteral("sessionscope-test-%1").arg(QCoreApplication::applicationPid()));
        store.setKeychainTimeout(std::chrono::milliseconds(3000));
        QVERIFY(store.load().ok());
        QVERIFY(store.upsert(ConnectionProfile::selfHosted(QStringLiteral("k"), QUrl("http://127.0.0.1:1"))).ok());
        QSignalSpy unavailable(&store, &ProfileStore::keychainUnavailable);
        const QString key = QStringLiteral("tr_dev_keychain_probe_42");
        auto stored = awaitResult<SecretStorage>(
            [&](auto done) { store.storeSecretKey(QStringLiteral("k"), key, nullptr, done); }, std::chrono::seconds(15));
        QVERIFY2(stored.ok(), describe(stored).constData());
        const auto profile = store.profile(QStringLiteral("k"));
        if (*stored == SecretStorage::File) {
            QCOMPARE(unavailable.size(), 1);
            QVERIFY2(profile->secretStorageNote.contains(QLatin1String("No keychain service")),
                     qPrintable(profile->secretStorageNote));
            QCOMPARE(QFile::permissions(store.secretsPath()) & (QFileDevice::ReadOther | QFileDevice::ReadGroup),
                     QFileDevice::Permissions());
        } else {
            QCOMPARE(*stored, SecretStorage::Keychain);
            QVERIFY(!QFile::exists(store.secretsPath()));
        }
        auto read = awaitResult<QString>([&](auto done) { store.readSecretKey(QStringLiteral("k"), nullptr, done); }, std::chrono::seconds(15));
        QVERIFY2(read.ok(), describe(read).constData());
        QCOMPARE(*read, key);
        QVERIFY(store.remove(QStringLiteral("k")).ok());
    }

    void redaction()
    {
        const QString key = QStringLiteral("tr_dev_abcdefghijklmnop");
        const QString jwt = QStringLiteral("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlbnYifQ.c2lnbmF0dXJlX2J5dGVz");
        const QString text = QStringLiteral("Authorization: Bearer %1 token %2 {\"publicAccessToken\":\"%2\"} "
                                            "https://h/x?token=%2&a=1")
                                 .arg(key, jwt);
        const QString out = redactSecrets(text);
        QVERIFY2(!out.contains(key), qPrintable(out));
        QVERIFY2(!out.contains(QLatin1String("ghijklmnop")), qPrintable(out));
        QVERIFY2(!out.contains(QLatin1String("c2lnbmF0dXJlX2J5dGVz")), qPrintable(out));
        QVERIFY2(!out.contains(QLatin1String("eyJzdWIiOiJlbnYifQ")), qPrintable(out));
        QVERIFY(out.contains(QLatin1String("[redacted]")));
        QVERIFY(out.contains(QLatin1String("&a=1")));
        QCOMPARE(redactHeaderValue("Authorization", "Bearer " + key.toUtf8()).contains(key.toUtf8()), false);
        QCOMPARE(redactHeaderValue("content-type", "text/event-stream"), QByteArray("text/event-stream"));
    }
};

QTEST_GUILESS_MAIN(TestProfileStore)
#include "tst_profilestore.moc"
