#pragma once

#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"

#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <optional>

namespace sessionscope {

// A session as GET /api/v1/sessions/{id} describes it. `raw` keeps the whole
// object so views can show fields this client does not know yet.
struct SessionItem
{
    QString id;
    QString externalId; // empty when the session has none
    QString type;
    QString taskIdentifier;
    QJsonObject triggerConfig;
    QString currentRunId;
    QStringList tags;
    QJsonValue metadata = QJsonValue::Null;
    QDateTime closedAt;
    QString closedReason;
    QDateTime expiresAt;
    QDateTime createdAt;
    QDateTime updatedAt;
    QJsonObject raw;

    bool isClosed() const { return closedAt.isValid(); }
    // ACTIVE, CLOSED or EXPIRED, the values filter[status] takes.
    QString status(const QDateTime &now = QDateTime::currentDateTimeUtc()) const;

    static Result<SessionItem> fromJson(const QJsonObject &object);
};

struct CreateSessionRequest
{
    QString type = QStringLiteral("chat.agent");
    QString externalId;
    QString taskIdentifier;
    // The ChatTaskWirePayload for the first run; its `metadata` is clientData.
    QJsonObject basePayload;
    // Other triggerConfig fields: machine, queue, tags, maxAttempts,
    // maxDuration, lockToVersion, region, idleTimeoutInSeconds.
    QJsonObject triggerOptions;
    QStringList tags;
    QJsonValue metadata = QJsonValue::Undefined; // Undefined: not sent
    QDateTime expiresAt;

    Result<void> validate() const;
    QJsonObject toJson() const;
};

struct CreatedSession
{
    SessionItem session;
    QString runId;
    QString publicAccessToken;
    bool isCached = false;
};

struct SessionListFilter
{
    int pageSize = 0; // 0: the server's default (20)
    QString after;
    QString before;
    QStringList types;
    QStringList tags;
    QStringList taskIdentifiers;
    QString externalId;
    QStringList statuses; // ACTIVE, CLOSED, EXPIRED
    QString createdPeriod; // e.g. "7d"
    std::optional<qint64> createdFromMs;
    std::optional<qint64> createdToMs;

    Result<void> validate() const;
    QueryItems toQuery() const;
};

struct SessionListPage
{
    QList<SessionItem> sessions;
    QString nextCursor;
    QString previousCursor;
};

struct SessionUpdate
{
    std::optional<QStringList> tags;
    std::optional<QJsonValue> metadata; // QJsonValue::Null clears
    std::optional<QString> externalId;

    QJsonObject toJson() const;
};

struct EndAndContinueResult
{
    QString runId;
    bool swapped = false;
};

struct RunDetails
{
    QString id;
    QString status;
    QString taskIdentifier;
    QString version;
    QDateTime createdAt;
    QDateTime updatedAt;
    QDateTime startedAt;
    QDateTime finishedAt;
    QStringList tags;
    qint64 durationMs = 0;
    bool isCompleted = false;
    bool isSuccess = false;
    bool isFailed = false;
    bool isCancelled = false;
    QJsonObject raw;

    static Result<RunDetails> fromJson(const QJsonObject &object);
};


// One SessionRun audit row (the `/runs` extension of the embedded server).
struct SessionRunEntry
{
    QString id;
    QString sessionId;
    QString runId;
    QString reason; // initial, continuation, upgrade, manual
    QDateTime triggeredAt;
    std::optional<RunDetails> run; // when the backend includes the run
    QJsonObject raw;

    static Result<SessionRunEntry> fromJson(const QJsonObject &object);
};

// Every REST call of the protocol page. Asynchronous: each call takes a
// context object (the callback is dropped if it dies) and a callback with a
// Result. Signals report what was seen so ObservedHistory can build run
// history on backends without the `/runs` extension.
class SessionsClient : public QObject
{
    Q_OBJECT

public:
    enum class RunsExtension { Unknown, Available, Unavailable };
    Q_ENUM(RunsExtension)

    explicit SessionsClient(const ConnectionProfile &profile, QObject *parent = nullptr);

    const ConnectionProfile &profile() const { return m_profile; }
    // Bearer, timeout, rate-limit budget and network manager live here.
    RestTransport *transport() const { return m_transport; }

    void createSession(const CreateSessionRequest &request, QObject *context, ResultCallback<CreatedSession> done);
    void listSessions(const SessionListFilter &query, QObject *context, ResultCallback<SessionListPage> done);
    void retrieveSession(const QString &idOrExternalId, QObject *context, ResultCallback<SessionItem> done);
    void updateSession(const QString &id, const SessionUpdate &update, QObject *context,
                       ResultCallback<SessionItem> done);
    void closeSession(const QString &id, const QString &reason, QObject *context, ResultCallback<SessionItem> done);
    void endAndContinue(const QString &id, const QString &callingRunId, const QString &reason, QObject *context,
                        ResultCallback<EndAndContinueResult> done);
    void retrieveRun(const QString &runId, QObject *context, ResultCallback<RunDetails> done);

    // GET /api/v1/sessions/{id}/runs, oldest first. The first call finds out whether the
    // backend has the extension (a 404 on /runs for a session that exists
    // means it has not) and runsExtensionDetected() says so once.
    void listSessionRuns(const QString &id, QObject *context, ResultCallback<QList<SessionRunEntry>> done);
    RunsExtension runsExtension() const { return m_runsExtension; }

Q_SIGNALS:
    void sessionSeen(const sessionscope::SessionItem &session);
    void sessionCreated(const sessionscope::CreatedSession &created);
    void runSeen(const sessionscope::RunDetails &run);
    void runTakenOver(const QString &sessionId, const QString &runId, const QString &reason);
    void runsExtensionDetected(bool available);

private:
    template <typename T>
    void failLater(QObject *context, ResultCallback<T> done, Error error);
    template <typename T, typename Parse>
    void call(HttpRequest request, QObject *context, ResultCallback<T> done, Parse parse);
    HttpRequest request(QByteArray verb, const QStringList &segments, const QueryItems &query = {},
                        const QJsonObject &body = {}) const;
    Result<SessionItem> parseSession(const HttpResponse &response, bool announce = true);
    void setRunsExtension(RunsExtension state);

    ConnectionProfile m_profile;
    RestTransport *m_transport;
    RunsExtension m_runsExtension = RunsExtension::Unknown;
};

} // namespace sessionscope

