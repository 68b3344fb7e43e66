#pragma once

#include "net/result.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QFile>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QThreadPool>

namespace sessionscope {

class SessionsClient;
class TokenManager;
struct SessionItem;
struct CreatedSession;
struct RunDetails;
struct JwtClaims;

// A run the client has seen take over a session.
struct ObservedRun
{
    QString sessionId;
    QString runId;
    // initial, continuation, upgrade, manual, or "observed" for the first run
    // seen on a session this client did not create (its reason is unknown).
    QString reason;
    QString source; // what revealed it: create, retrieve, token, end-and-continue
    QDateTime firstSeenAt;
    QString version;
    QString status;
};

// One upgrade-required record and the handover it announced.
struct ObservedUpgrade
{
    QString sessionId;
    qint64 seq = -1;
    QDateTime observedAt;
    QString fromRunId;
    QString toRunId; // empty until the new run has been seen
    QString fromVersion;
    QString toVersion;
};

// Run history and upgrade audit for backends without the `/runs` extension,
// built from what the client observes: currentRunId changes, run ids in
// refreshed tokens, upgrade-required records (with their seq) and run details
// (with their version). Every fact goes to an append-only JSON-lines journal
// (flushed and fsynced per fact) and is replayed on open(), so the history
// survives restarts; a torn last line from a crash is skipped and reported.
class ObservedHistory : public QObject
{
    Q_OBJECT

public:
    explicit ObservedHistory(const QString &journalPath, QObject *parent = nullptr);
    ~ObservedHistory() override;

    QString journalPath() const { return m_path; }

    // Replays the journal and opens it for appending.
    Result<void> open();
    // Waits until every fact observed so far is on disk.
    void flush();
    // Lines that could not be read by the last open() (torn or foreign).
    int skippedLines() const { return m_skippedLines; }

    QList<ObservedRun> runs(const QString &session) const;
    QList<ObservedUpgrade> upgrades(const QString &session) const;
    QStringList sessions() const;

    // Follows a client's answers; after an upgrade-required record it asks
    // the client for the session so the new run is seen promptly.
    void attach(SessionsClient *client);
    // Follows a token manager's run ids for one session.
    void attach(TokenManager *tokens, const QString &session);

    void observeSession(const SessionItem &session, const QString &source = QStringLiteral("retrieve"));
    void observeCreated(const CreatedSession &created);
    void observeTakeover(const QString &session, const QString &runId, const QString &reason);
    void observeToken(const QString &session, const JwtClaims &claims);
    void observeRun(const RunDetails &run);
    // `.out` records of a session: upgrade-required control records.
    void observeRecords(const QString &session, const QList<StreamRecord> &records);

Q_SIGNALS:
    void historyChanged(const QString &sessionId);
    void journalError(const QString &message);

private:
    struct SessionState
    {
        QList<ObservedRun> runs;
        QList<ObservedUpgrade> upgrades;
        QSet<qint64> upgradeSeqs;
    };
    struct RunInfo
    {
        QString version;
        QString status;
    };

    QString canonical(const QString &session) const;
    void record(const QJsonObject &fact);
    void apply(const QJsonObject &fact);
    void applyRun(const QString &session, const QString &runId, const QString &source, const QString &reason,
                  const QDateTime &at);
    void applyUpgrade(const QString &session, qint64 seq, const QDateTime &at);
    void fillVersions(ObservedUpgrade &upgrade) const;
    bool knowsRun(const QString &session, const QString &runId) const;

    QString m_path;
    // Written only on m_writer's one thread once open() returns, so fsync never
    // blocks the thread that observes (the UI's).
    QFile m_file;
    QThreadPool m_writer{this}; // a child, so moveToThread takes it along
    int m_skippedLines = 0;
    QHash<QString, SessionState> m_sessions;
    QHash<QString, QString> m_aliases; // externalId -> friendly id
    QHash<QString, RunInfo> m_runInfo;
    QHash<QString, QString> m_runSession; // runId -> friendly id
    QPointer<SessionsClient> m_client;
};

} // namespace sessionscope
