#pragma once

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <memory>

class QTcpSocket;

namespace sessionscope {

class ChaosInjector;

// The body of one SSE response in chaos mode: each event may be the last
// (sse-drop: written in part or not at all, then the connection is cut), and a
// slow-read response goes out in 1..64 byte fragments with pauses of a few
// ms, so clients see frames split across many reads. A child of the socket:
// it goes with the connection, and keeps trickling after the exchange that
// made it has finished.
class ChaosSseWriter : public QObject
{
    Q_OBJECT

public:
    ChaosSseWriter(std::shared_ptr<ChaosInjector> chaos, QTcpSocket *socket);

    // One framed chunk holding one SSE event.
    void writeEvent(const QByteArray &frame);
    // Bytes that are not an event (the terminating chunk): never dropped,
    // but queued behind a trickle.
    void writeRaw(const QByteArray &bytes);
    // Closes the connection once everything queued is out.
    void disconnectWhenDrained();
    // Queued by the trickle, not yet handed to the socket.
    qint64 pendingBytes() const { return m_queue.size() - m_queueStart; }
    bool isTrickling() const { return m_trickle; }

private:
    void trickle();
    void cut();

    std::shared_ptr<ChaosInjector> m_chaos;
    QPointer<QTcpSocket> m_socket;
    QTimer m_timer;
    QByteArray m_queue;
    qsizetype m_queueStart = 0;
    bool m_trickle = false;
    bool m_cutWhenDrained = false;
    bool m_disconnectWhenDrained = false;
    bool m_cut = false;
};

} // namespace sessionscope
