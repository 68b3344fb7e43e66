#pragma once

#include "net/backoff.h"
#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include <chrono>
#include <memory>
#include <optional>

class QNetworkAccessManager;
class QNetworkReply;

namespace sessionscope {

class S2BatchDecoder;
class SseParser;
struct SseEvent;

// Follows a session stream (`.out` by default, `.in` too) over SSE and never
// loses its place: bytes go from each QNetworkReply::readyRead straight into
// the SSE parser, the highest seq received (command records included) is the
// cursor, and every end of a connection ([DONE], a stall, a drop, a 5xx)
// reconnects with Last-Event-ID, after capped exponential backoff with jitter
// for the failures. Records are delivered exactly once and in seq order across
// reconnects: one recordsReceived() per network read.
class SessionOutSubscription : public QObject
{
    Q_OBJECT

public:
    enum class State {
        Idle,       // not started
        Connecting, // request sent, no answer yet
        Live,       // streaming, behind the tail or tail unknown
        CaughtUp,   // streaming, highest seq + 1 == tail
        BackingOff, // waiting before the next attempt (nextAttemptAt())
        Settled,    // the server answered X-Session-Settled; resume() to go on
        Failed,     // a final refusal (4xx) or too many failures; see failure()
        Stopped,    // stop() was called
    };
    Q_ENUM(State)

    struct Options
    {
        Channel channel = Channel::Out;
        int timeoutSeconds = 60; // Timeout-Seconds, 1..600
        // Send X-Peek-Settled: 1 on reconnects and stop when the server
        // answers X-Session-Settled: true (the agent's turn is over).
        bool peekSettled = true;
        BackoffPolicy backoff;
        // No response headers within this long: the attempt failed.
        std::chrono::milliseconds connectTimeout{15000};
        // No bytes (records or pings, every ~5 s) for this long: the
        // connection is dead even if the socket says otherwise.
        std::chrono::milliseconds stallTimeout{20000};
        // Give up after this many failed attempts in a row; 0 never gives up.
        int maxConsecutiveFailures = 0;
    };

    SessionOutSubscription(const ConnectionProfile &profile, const QString &session, QObject *parent = nullptr);
    ~SessionOutSubscription() override;

    // Takes effect at the next connection.
    void setOptions(const Options &options);
    const Options &options() const { return m_options; }
    void setBearerSource(BearerSource source) { m_bearer = std::move(source); }
    // Not owned; without one the subscription makes its own.
    void setNetworkAccessManager(QNetworkAccessManager *manager);

    // Streams records after `afterSeq` (-1: from the start of the stream).
    void start(qint64 afterSeq = -1);
    void stop();
    // Reconnects from the highest seq received, e.g. after Settled or Failed.
    void resume();

    State state() const { return m_state; }
    QString session() const { return m_session; }
    qint64 lastSeq() const { return m_lastSeq; }
    std::optional<StreamTail> tail() const { return m_tail; }
    bool isCaughtUp() const { return m_tail && m_lastSeq + 1 >= m_tail->seqNum; }
    QDateTime nextAttemptAt() const { return m_nextAttemptAt; }
    Error failure() const { return m_failure; }

    // Counters for status bars and tests.
    int connectionCount() const { return m_connections; }
    qint64 recordsDelivered() const { return m_delivered; }
    qint64 duplicatesDropped() const { return m_duplicates; }

    static QString stateName(State state);

Q_SIGNALS:
    void recordsReceived(const QList<sessionscope::StreamRecord> &records);
    void stateChanged(sessionscope::SessionOutSubscription::State state);
    void tailChanged(const sessionscope::StreamTail &tail);
    void caughtUp(qint64 lastSeq);
    void backingOff(const QDateTime &nextAttemptAt, const sessionscope::Error &reason);
    void settled(qint64 lastSeq);
    void failed(const sessionscope::Error &reason);
    // Not fatal: a record that did not decode, an `event: error` from the
    // server. The stream goes on (and reconnects if the server closes).
    void streamError(const sessionscope::Error &error);

private:
    void connectNow();
    void onMetaData();
    void onReadyRead();
    void onFinished();
    void onWatchdog();
    void process(QList<SseEvent> &events);
    void endConnection();
    void reconnectAfter(const Error &reason, std::optional<QDateTime> notBefore = std::nullopt);
    void fail(const Error &reason);
    void setState(State state);
    void updateLiveState();
    QNetworkAccessManager *manager();

    ConnectionProfile m_profile;
    QString m_session;
    Options m_options;
    BearerSource m_bearer;
    QPointer<QNetworkAccessManager> m_manager;
    bool m_ownsManager = false;

    QPointer<QNetworkReply> m_reply;
    // Held by pointer so this header does not depend on their layout.
    std::unique_ptr<SseParser> m_parser;
    std::unique_ptr<S2BatchDecoder> m_decoder;
    Backoff m_backoff;
    // Children, so moveToThread takes them along.
    QTimer m_retryTimer{this};
    QTimer m_watchdog{this};
    QElapsedTimer m_connectionAge;

    State m_state = State::Idle;
    qint64 m_lastSeq = -1;
    std::optional<StreamTail> m_tail;
    QDateTime m_nextAttemptAt;
    Error m_failure;
    bool m_reconnecting = false; // a connection has been made before
    bool m_headersSeen = false;
    bool m_httpOk = false;
    bool m_gotDone = false;
    bool m_sessionSettled = false;
    bool m_progress = false; // this connection delivered records or a tail
    QString m_abortReason;   // why the watchdog aborted the reply
    int m_failures = 0;
    int m_emptyDones = 0;
    int m_connections = 0;
    qint64 m_delivered = 0;
    qint64 m_duplicates = 0;
};

} // namespace sessionscope
