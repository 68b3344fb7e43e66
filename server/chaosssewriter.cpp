#include "server/chaosssewriter.h"

#include "server/chaosinjector.h"

#include <QTcpSocket>

#include <sys/socket.h>

namespace sessionscope {

namespace {

// Bytes one trickle step writes (each fragment a send of its own) before pausing.
constexpr qsizetype BytesPerStep = 1024;

} // namespace

ChaosSseWriter::ChaosSseWriter(std::shared_ptr<ChaosInjector> chaos, QTcpSocket *socket)
    : QObject(socket), m_chaos(std::move(chaos)), m_socket(socket)
{
    m_trickle = m_chaos->slowRead();
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &ChaosSseWriter::trickle);
}

void ChaosSseWriter::writeEvent(const QByteArray &frame)
{
    if (m_cut || m_cutWhenDrained)
        return;
    qsizetype keep = 0;
    if (!m_chaos->dropSseEvent(frame.size(), &keep)) {
        writeRaw(frame);
        return;
    }
    writeRaw(frame.first(keep));
    if (m_trickle && pendingBytes() > 0)
        m_cutWhenDrained = true;
    else
        cut();
}

void ChaosSseWriter::writeRaw(const QByteArray &bytes)
{
    if (m_cut || m_cutWhenDrained || bytes.isEmpty() || !m_socket ||
        m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    if (!m_trickle) {
        m_socket->write(bytes);
        return;
    }
    m_queue.append(bytes);
    if (!m_timer.isActive())
        m_timer.start(m_chaos->pauseMs());
}

void ChaosSseWriter::disconnectWhenDrained()
{
    if (pendingBytes() == 0) {
        if (m_socket)
            m_socket->disconnectFromHost();
        return;
    }
    m_disconnectWhenDrained = true;
}

void ChaosSseWriter::trickle()
{
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState) {
        m_queue.clear();
        m_queueStart = 0;
        return;
    }
    qsizetype written = 0;
    while (pendingBytes() > 0 && written < BytesPerStep) {
        const qsizetype n = qMin<qsizetype>(m_chaos->fragmentBytes(), pendingBytes());
        m_socket->write(m_queue.constData() + m_queueStart, n);
        // Out now, as a segment of its own (the router turned Nagle off).
        m_socket->flush();
        m_queueStart += n;
        written += n;
    }
    if (pendingBytes() > 0) {
        if (m_queueStart >= 64 * 1024) {
            m_queue.remove(0, m_queueStart);
            m_queueStart = 0;
        }
        m_timer.start(m_chaos->pauseMs());
        return;
    }
    m_queue.clear();
    m_queueStart = 0;
    if (m_cutWhenDrained)
        cut();
    else if (m_disconnectWhenDrained)
        m_socket->disconnectFromHost();
}

void ChaosSseWriter::cut()
{
    m_cut = true;
    m_timer.stop();
    m_queue.clear();
    m_queueStart = 0;
    if (!m_socket)
        return;
    // What was written so far leaves first (as far as the kernel takes it).
    m_socket->flush();
    if (m_chaos->coinFlip()) {
        // A reset rather than an orderly close: SO_LINGER 0 makes close() send RST.
        const linger reset{1, 0};
        ::setsockopt(int(m_socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &reset,
                     sizeof reset);
    }
    m_socket->abort();
}

} // namespace sessionscope
