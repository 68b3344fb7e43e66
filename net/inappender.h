#pragma once

#include "net/backoff.h"
#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QString>

#include <chrono>
#include <memory>

namespace sessionscope {

struct InAppendResult
{
    QString partId;
    qint64 seq = -1; // the record's `.in` seq
    int attempts = 0;
};

// Sends ChatInputChunks to `.in` (POST .../in/append). Each logical send gets
// one X-Part-Id that every retry reuses, so a retry after a lost answer cannot
// append twice. 5xx, timeouts and network errors are retried with capped
// backoff, 429 is waited out (RestTransport), anything else the server refuses
// (400, 401, 403, 404, 409, 413, 422) is final with the server's message.
//
// Feed it the `.out` records (observeRecords) and it tells which turn-complete
// answers which send: a turn-complete is yours when its session-in-event-id is
// at least the seq your append returned.
class InAppender : public QObject
{
    Q_OBJECT

public:
    // `session` is the friendly id or the externalId; it is also the chatId
    // the payloads carry unless setChatId() says otherwise.
    InAppender(const ConnectionProfile &profile, const QString &session, QObject *parent = nullptr);
    ~InAppender() override;

    RestTransport *transport() const { return m_transport; }
    QString session() const { return m_session; }

    void setChatId(const QString &chatId) { m_chatId = chatId; }
    QString chatId() const { return m_chatId; }

    void setBackoffPolicy(const BackoffPolicy &policy) { m_policy = policy; }
    // A send gives up after this many attempts or this much time, whichever
    // comes first, and reports the last error.
    void setRetryLimits(int maxAttempts, std::chrono::milliseconds deadline);

    // Each returns the X-Part-Id of the send, the key for the signals below.
    QString sendMessage(const QString &text, const QJsonValue &clientData = QJsonValue::Undefined,
                        QObject *context = nullptr, ResultCallback<InAppendResult> done = {});
    QString sendStop(const QString &message = {}, QObject *context = nullptr, ResultCallback<InAppendResult> done = {});
    QString sendAction(const QJsonValue &action, const QJsonValue &clientData = QJsonValue::Undefined,
                       QObject *context = nullptr, ResultCallback<InAppendResult> done = {});
    QString sendRegenerate(const QString &messageId = {}, const QJsonValue &clientData = QJsonValue::Undefined,
                           QObject *context = nullptr, ResultCallback<InAppendResult> done = {});
    // Any ChatInputChunk as it goes on the wire. An empty partId makes one.
    QString sendChunk(const QJsonObject &chunk, QObject *context = nullptr, ResultCallback<InAppendResult> done = {},
                      const QString &partId = {});

    // The chunks above, for callers that want to show or edit them first.
    QJsonObject messageChunk(const QString &text, const QJsonValue &clientData,
                             const QString &messageId = {}) const;
    QJsonObject actionChunk(const QJsonValue &action, const QJsonValue &clientData) const;
    QJsonObject regenerateChunk(const QString &messageId, const QJsonValue &clientData) const;
    static QJsonObject stopChunk(const QString &message);

    int inFlight() const { return int(m_sends.size()); }
    // Sends whose turn-complete has not been seen yet.
    int awaitingTurn() const { return int(m_awaiting.size()); }

public Q_SLOTS:
    void observeRecords(const QList<sessionscope::StreamRecord> &records);

Q_SIGNALS:
    void appended(const QString &partId, qint64 seq);
    void retrying(const QString &partId, int attempt, const sessionscope::Error &reason, const QDateTime &nextAttemptAt);
    void failed(const QString &partId, const sessionscope::Error &error);
    void turnCompleted(const QString &partId, qint64 inSeq, const sessionscope::StreamRecord &record);

private:
    struct Send;
    void attempt(const std::shared_ptr<Send> &send);
    void onAnswer(const std::shared_ptr<Send> &send, Result<HttpResponse> answer);
    void complete(const std::shared_ptr<Send> &send, Result<InAppendResult> result);
    QJsonObject payload(const QString &trigger, const QJsonValue &clientData) const;

    struct Awaiting
    {
        QString partId;
        qint64 seq;
    };

    ConnectionProfile m_profile;
    QString m_session;
    QString m_chatId;
    RestTransport *m_transport;
    BackoffPolicy m_policy;
    int m_maxAttempts = 10;
    std::chrono::milliseconds m_deadline{120000};
    QList<std::shared_ptr<Send>> m_sends;
    QList<Awaiting> m_awaiting;
    // Turn-completes already seen, newest last: with `.in` through an edge
    // proxy and `.out` direct, the answer can arrive before the append does.
    QList<QPair<qint64, StreamRecord>> m_seenTurnCompletes;
};

} // namespace sessionscope
