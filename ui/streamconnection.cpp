#include "ui/streamconnection.h"

#include "models/streamingest.h"

#include <QThread>

namespace sessionscope {

StreamConnection::StreamConnection(const ConnectionProfile &profile, const QString &session, Channel channel,
                                   QThread *thread, StreamIngest *ingest, QObject *parent)
    : QObject(parent), m_profile(profile), m_session(session), m_channel(channel), m_ingest(ingest),
      m_anchor(new QObject)
{
    m_anchor->moveToThread(thread);
}

StreamConnection::~StreamConnection()
{
    QObject *anchor = m_anchor;
    if (anchor->thread()->isRunning())
        QMetaObject::invokeMethod(anchor, [anchor] { delete anchor; }, Qt::BlockingQueuedConnection);
    else
        delete anchor;
}

void StreamConnection::start(qint64 afterSeq)
{
    // The subscription is built on the network thread so its timers and
    // sockets belong there.
    StreamIngest *ingest = m_ingest.data();
    QMetaObject::invokeMethod(m_anchor, [this, ingest, afterSeq] {
        delete m_subscription;
        auto *sub = new SessionOutSubscription(m_profile, m_session, m_anchor);
        m_subscription = sub;
        SessionOutSubscription::Options options;
        options.channel = m_channel;
        // The console follows a session for as long as it is open.
        options.peekSettled = false;
        sub->setOptions(options);
        const Channel channel = m_channel;
        const auto post = [this, sub](const QString &detail) {
            StreamStatus s;
            s.state = sub->state();
            s.connections = sub->connectionCount();
            s.lastSeq = sub->lastSeq();
            s.tailSeq = sub->tail() ? sub->tail()->seqNum : -1;
            s.caughtUp = sub->isCaughtUp();
            s.nextAttemptAt = sub->nextAttemptAt();
            s.detail = detail;
            QMetaObject::invokeMethod(this, [this, s] { apply(s); }, Qt::QueuedConnection);
        };
        connect(sub, &SessionOutSubscription::recordsReceived, sub,
                [this, ingest, channel](const QList<StreamRecord> &records) {
                    if (ingest)
                        ingest->feedRecords(channel, records);
                    QMetaObject::invokeMethod(
                        this, [this, records] { Q_EMIT recordsReceived(records); }, Qt::QueuedConnection);
                });
        connect(sub, &SessionOutSubscription::stateChanged, sub, [post] { post({}); });
        connect(sub, &SessionOutSubscription::caughtUp, sub, [post] { post({}); });
        connect(sub, &SessionOutSubscription::tailChanged, sub, [post] { post({}); });
        connect(sub, &SessionOutSubscription::backingOff, sub,
                [post](const QDateTime &, const Error &reason) { post(reason.message); });
        connect(sub, &SessionOutSubscription::failed, sub, [post](const Error &reason) { post(reason.message); });
        connect(sub, &SessionOutSubscription::streamError, sub, [this](const Error &error) {
            QMetaObject::invokeMethod(this, [this, error] { Q_EMIT streamError(error); }, Qt::QueuedConnection);
        });
        sub->start(afterSeq);
    });
}

void StreamConnection::stop()
{
    QMetaObject::invokeMethod(m_anchor, [this] {
        if (m_subscription)
            m_subscription->stop();
    });
}

void StreamConnection::resume()
{
    QMetaObject::invokeMethod(m_anchor, [this] {
        if (m_subscription)
            m_subscription->resume();
    });
}

void StreamConnection::apply(const StreamStatus &status)
{
    // Reasons arrive with the state change that follows them; keep the last one
    // until the stream is healthy again.
    StreamStatus next = status;
    if (next.detail.isEmpty() && next.state != SessionOutSubscription::State::Live
        && next.state != SessionOutSubscription::State::CaughtUp)
        next.detail = m_status.detail;
    m_status = next;
    Q_EMIT statusChanged(m_status);
}

} // namespace sessionscope
