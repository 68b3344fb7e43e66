#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"
#include "net/tokenmanager.h"

#include "awaitresult.h"
#include "testsessions.h"
#include "testserverprocess.h"
#include "teststreamwriter.h"

#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;

class TestTokenManager : public QObject
{
    Q_OBJECT

    TestServerProcess m_server;

    static Result<CreatedSession> create(const ConnectionProfile &profile, const QString &externalId)
    {
        return createChatSession(profile, externalId);
    }

    // An unsigned stand-in shaped like the server's tokens (claims are
    // decoded, never verified, so the signature does not matter here).
    static QString makeToken(const char *scopesJson, qint64 iat, qint64 exp)
    {
        const auto enc = [](const QByteArray &json) {
            return json.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        };
        const QByteArray payload = QByteArray(R"({"sub":"env","pub":true,"scopes":)") + scopesJson +
                                   R"(,"iat":)" + QByteArray::number(iat) + R"(,"exp":)" + QByteArray::number(exp) + "}";
        return QString::fromLatin1(enc(R"({"alg":"HS256","typ":"JWT"})") + '.' + enc(payload) + ".sig");
    }

    static QString uniqueId() { return uniqueName("tok"); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
    }

    void decodesScopesAndExpiryOfRealTokens()
    {
        const QString ext = uniqueId();
        const auto created = create(m_server.profile(), ext);
        QVERIFY2(created.ok(), describe(created).constData());
        TokenManager tokens;
        QSignalSpy changed(&tokens, &TokenManager::tokenChanged);
        const auto claims = tokens.setToken(created->publicAccessToken, QStringLiteral("create"));
        QVERIFY2(claims.ok(), describe(claims).constData());
        QCOMPARE(changed.size(), 1);
        QCOMPARE(tokens.source(), QStringLiteral("create"));
        QCOMPARE(claims->algorithm, QStringLiteral("HS256"));
        QVERIFY(claims->isPublic);
        QVERIFY(!claims->subject.isEmpty());
        QCOMPARE(claims->issuer, QStringLiteral("https://id.trigger.dev"));
        QVERIFY(claims->audience.contains(QStringLiteral("https://api.trigger.dev")));
        QVERIFY(claims->hasScope(QStringLiteral("read:sessions:") + ext));
        QVERIFY(claims->hasScope(QStringLiteral("write:sessions:") + ext));
        QCOMPARE(claims->sessionKeys(QStringLiteral("read")), QStringList{ext});
        QCOMPARE(claims->sessionKeys(QStringLiteral("write")), QStringList{ext});
        QCOMPARE(claims->issuedAt.secsTo(claims->expiresAt), 3600);
        QVERIFY(!claims->isExpired());
        const qint64 left = tokens.secondsRemaining();
        QVERIFY(left > 3500 && left <= 3600);

        // The token is good for the session's stream (scope checked by the server).
        SessionOutSubscription sub(m_server.profile(), ext);
        sub.setBearerSource(tokens.bearerSource());
        sub.start();
        QTRY_VERIFY_WITH_TIMEOUT(sub.state() == SessionOutSubscription::State::CaughtUp ||
                                     sub.state() == SessionOutSubscription::State::Live,
                                 5000);
    }

    void refreshesFromTurnComplete()
    {
        const QString ext = uniqueId();
        const auto created = create(m_server.profile(), ext);
        QVERIFY(created.ok());
        QTest::qWait(1100); // so the refreshed token has a later iat
        const auto cached = create(m_server.profile(), ext); // a fresh token for the same session
        QVERIFY(cached.ok());
        QVERIFY(cached->isCached);
        QVERIFY(cached->publicAccessToken != created->publicAccessToken);

        TokenManager tokens;
        QVERIFY(tokens.setToken(created->publicAccessToken).ok());
        QSignalSpy changed(&tokens, &TokenManager::tokenChanged);
        QSignalSpy rejected(&tokens, &TokenManager::tokenRejected);

        TestStreamWriter writer(m_server.profile());
        const QString id = created->session.id;
        QVERIFY(writer.appendControl(id, "turn-complete", {{"session-in-event-id", "0"}}).ok());
        const auto refreshAt = writer.appendControl(
            id, "turn-complete", {{"public-access-token", cached->publicAccessToken.toUtf8()}});
        QVERIFY(refreshAt.ok());
        QVERIFY(writer.appendControl(id, "turn-complete", {{"public-access-token", "not-a-jwt"}}).ok());

        SessionOutSubscription sub(m_server.profile(), id);
        connect(&sub, &SessionOutSubscription::recordsReceived, &tokens, &TokenManager::observeRecords);
        sub.start();
        QTRY_COMPARE_WITH_TIMEOUT(sub.state(), SessionOutSubscription::State::CaughtUp, 5000);

        QCOMPARE(changed.size(), 1);
        QCOMPARE(tokens.token(), cached->publicAccessToken);
        QCOMPARE(tokens.source(), QStringLiteral("turn-complete at seq %1").arg(*refreshAt));
        QVERIFY(tokens.claims().issuedAt > JwtClaims::decode(created->publicAccessToken.toUtf8())->issuedAt);
        QCOMPARE(rejected.size(), 1);
        QVERIFY(rejected.first().first().toString().contains(QLatin1String("not a JWT")));
        QVERIFY(!rejected.first().first().toString().contains(cached->publicAccessToken));
    }

    void warnsBeforeExpiry()
    {
        const auto created = create(m_server.profile(), uniqueId());
        QVERIFY(created.ok());
        TokenManager tokens;
        QSignalSpy soon(&tokens, &TokenManager::expiringSoon);
        QSignalSpy expired(&tokens, &TokenManager::expired);
        tokens.setWarningLead(std::chrono::minutes(5));
        QVERIFY(tokens.setToken(created->publicAccessToken).ok());
        QTest::qWait(300);
        QCOMPARE(soon.size(), 0);

        // A lead longer than the time left warns at once, with the time left.
        tokens.setWarningLead(std::chrono::seconds(3599));
        QTRY_COMPARE_WITH_TIMEOUT(soon.size(), 1, 3000);
        const qint64 secondsLeft = soon.first().at(1).toLongLong();
        QVERIFY(secondsLeft > 3500 && secondsLeft <= 3600);
        QCOMPARE(soon.first().at(0).toDateTime(), tokens.claims().expiresAt);
        QTest::qWait(200);
        QCOMPARE(soon.size(), 1);
        QCOMPARE(expired.size(), 0);
    }

    void expiresAndSaysSo()
    {
        // The embedded server's tokens live an hour; a token built here with
        // a two-second life exercises the expiry path.
        TokenManager tokens;
        tokens.setWarningLead(std::chrono::seconds(1));
        QSignalSpy soon(&tokens, &TokenManager::expiringSoon);
        QSignalSpy expired(&tokens, &TokenManager::expired);
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        QVERIFY(tokens.setToken(makeToken(R"(["read:sessions:x"])", now, now + 2)).ok());
        QCOMPARE(tokens.claims().issuedAt.secsTo(tokens.claims().expiresAt), 2);
        QTRY_COMPARE_WITH_TIMEOUT(expired.size(), 1, 5000);
        QCOMPARE(soon.size(), 1);
        QVERIFY(tokens.claims().isExpired());
        QCOMPARE(tokens.secondsRemaining(), 0);
    }

    void malformedTokensAreRefused_data()
    {
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<QString>("reason");
        QTest::newRow("empty") << QByteArray("") << "empty";
        QTest::newRow("two parts") << QByteArray("a.b") << "not a JWT";
        QTest::newRow("bad base64") << QByteArray("e30.!!!.x") << "base64url";
        QTest::newRow("payload not json") << QByteArray("e30.bm90IGpzb24.x") << "not a JSON object";
        QTest::newRow("scopes not array") << QByteArray("e30.eyJzY29wZXMiOiJhIn0.x") << "scopes";
        QTest::newRow("exp not number") << QByteArray("e30.eyJleHAiOiJzb29uIn0.x") << "exp";
        // {"exp":1e300}: a number no time holds (fuzz/corpus/jwt/signed-big-exp).
        QTest::newRow("exp out of range") << QByteArray("e30.eyJleHAiOjFlMzAwfQ.x") << "exp";
    }

    void malformedTokensAreRefused()
    {
        QFETCH(QByteArray, token);
        QFETCH(QString, reason);
        const auto created = create(m_server.profile(), uniqueId());
        QVERIFY(created.ok());
        TokenManager tokens;
        QVERIFY(tokens.setToken(created->publicAccessToken).ok());
        QSignalSpy rejected(&tokens, &TokenManager::tokenRejected);
        const auto r = tokens.setToken(QString::fromLatin1(token));
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(reason), qPrintable(r.error().message));
        QCOMPARE(rejected.size(), 1);
        QCOMPARE(tokens.token(), created->publicAccessToken);
    }

    void liveRunIdFromRunScopes()
    {
        // A run-scoped token as the real API's trigger path hands out
        // (x-trigger-jwt): `read:runs:<id>` names the live run.
        const auto token = [](const char *scopes) { return makeToken(scopes, 1700000000, 4102444800); };
        TokenManager tokens;
        QSignalSpy runChanged(&tokens, &TokenManager::liveRunIdChanged);
        QVERIFY(tokens.setToken(token(R"(["read:runs:run_a","write:inputStreams:run_a"])")).ok());
        QCOMPARE(tokens.liveRunId(), QStringLiteral("run_a"));
        QVERIFY(tokens.setToken(token(R"(["read:runs:run_a"])")).ok());
        QVERIFY(tokens.setToken(token(R"(["read:runs:run_b"])")).ok());
        QCOMPARE(runChanged.size(), 2);
        QCOMPARE(runChanged.last().at(0).toString(), QStringLiteral("run_b"));
        QCOMPARE(runChanged.last().at(1).toString(), QStringLiteral("run_a"));
    }
};

QTEST_GUILESS_MAIN(TestTokenManager)
#include "tst_tokenmanager.moc"
