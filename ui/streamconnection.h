#pragma once

#include "net/connectionprofile.h"
#include "net/result.h"
#include "net/sessionoutsubscription.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QPointer>

class QThread;

namespace sessionscope {

class StreamIngest;

// What the inspector shows about one subscription.
struct StreamStatus
{
    SessionOutSubscription::State state = SessionOutSubscription::State::Idle;
    int connections = 0;
    qint64 lastSeq = -1;
    qint64 tailSeq = -1;
    bool caughtUp = false;
    QDateTime nextAttemptAt;
    QString detail; // the failure or back-off reason, in the server's words
};

// One `.in` or `.out` subscription run on the network thread: SSE framing and
// S2 decoding never touch the UI thread. Records go straight from that
// thread into the StreamIngest (which decodes on its own worker) and, as one
// queued signal per network read, to the UI for the cheap header-only
// observers (appender, token manager).
class StreamConnection : public QObject
{
    Q_OBJECT

public:
    StreamConnection(const ConnectionProfile &profile, const QString &session, Channel channel, QThread *thread,
                     StreamIngest *ingest, QObject *parent = nullptr);
    // Blocks until the subscription is gone from the network thread, so the
    // ingest it feeds may be destroyed right after.
    ~StreamConnection() override;

    Channel channel() const { return m_channel; }
    const StreamStatus &status() const { return m_status; }

    void start(qint64 afterSeq = -1);
    void stop();
    void resume();

Q_SIGNALS:
    void recordsReceived(const QList<sessionscope::StreamRecord> &records);
    void statusChanged(const sessionscope::StreamStatus &status);
    void streamError(const sessionscope::Error &error);

private:
    void apply(const StreamStatus &status);

    ConnectionProfile m_profile;
    QString m_session;
    Channel m_channel;
    QPointer<StreamIngest> m_ingest;
    QObject *m_anchor; // lives on the network thread, parent of the subscription
    SessionOutSubscription *m_subscription = nullptr; // touched on the network thread only
    StreamStatus m_status;
};

} // namespace sessionscope
