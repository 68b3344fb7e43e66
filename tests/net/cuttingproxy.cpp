#include "cuttingproxy.h"

#include <QHostAddress>

namespace sessionscope {

CuttingProxy::CuttingProxy(quint16 targetPort, QObject *parent) : QObject(parent), m_targetPort(targetPort)
{
    connect(&m_server, &QTcpServer::newConnection, this, &CuttingProxy::onNewConnection);
}

CuttingProxy::~CuttingProxy()
{
    const auto pipes = m_pipes;
    for (Pipe *p : pipes)
        close(p, true);
}

bool CuttingProxy::listen()
{
    return m_server.listen(QHostAddress::LocalHost, 0);
}

QString CuttingProxy::url() const
{
    return QStringLiteral("http://127.0.0.1:%1").arg(port());
}

void CuttingProxy::planFaults(int count, qint64 minBytes, qint64 maxBytes, QList<Fault> kinds,
                              double passEventChance)
{
    m_passEventChance = passEventChance;
    m_faultsPlanned = m_faultsDone + count;
    m_minBytes = qMax<qint64>(0, minBytes);
    m_maxBytes = qMax(m_minBytes, maxBytes);
    m_kinds = kinds.isEmpty() ? QList<Fault>{Fault::Cut} : kinds;
}

void CuttingProxy::onNewConnection()
{
    while (QTcpSocket *client = m_server.nextPendingConnection()) {
        ++m_connections;
        auto *pipe = new Pipe;
        pipe->client = client;
        pipe->upstream = new QTcpSocket(this);
        if (m_dropAnswers > 0) {
            --m_dropAnswers;
            pipe->dropAnswer = true;
        } else if (m_faultsDone < m_faultsPlanned) {
            std::uniform_int_distribution<qint64> bytes(m_minBytes, m_maxBytes);
            std::uniform_int_distribution<int> kind(0, int(m_kinds.size()) - 1);
            pipe->breakAt = bytes(m_random);
            pipe->fault = m_kinds.at(kind(m_random));
            std::bernoulli_distribution pass(m_passEventChance);
            while (pipe->eventsToPass < 1000 && pass(m_random))
                ++pipe->eventsToPass;
        }
        m_pipes.append(pipe);

        connect(client, &QTcpSocket::readyRead, this, [this, pipe] {
            if (!pipe->client)
                return;
            const QByteArray bytes = pipe->client->readAll();
            if (refuse(pipe, bytes))
                return;
            if (pipe->upstream && pipe->upstream->state() == QAbstractSocket::ConnectedState)
                pipe->upstream->write(bytes);
            else
                pipe->pendingUp += bytes;
        });
        connect(client, &QTcpSocket::disconnected, this, [this, pipe] { close(pipe, false); });
        connect(pipe->upstream, &QTcpSocket::connected, this, [pipe] {
            if (!pipe->pendingUp.isEmpty())
                pipe->upstream->write(std::exchange(pipe->pendingUp, {}));
        });
        connect(pipe->upstream, &QTcpSocket::readyRead, this, [this, pipe] { forwardDown(pipe); });
        connect(pipe->upstream, &QTcpSocket::disconnected, this, [this, pipe] {
            // Whatever the server sent last still goes to the client first.
            forwardDown(pipe);
            if (pipe->client)
                pipe->client->disconnectFromHost();
        });
        connect(pipe->upstream, &QTcpSocket::errorOccurred, this, [this, pipe](QAbstractSocket::SocketError e) {
            if (e != QAbstractSocket::RemoteHostClosedError)
                close(pipe, true);
        });
        pipe->upstream->connectToHost(QHostAddress::LocalHost, m_targetPort);
    }
}

void CuttingProxy::forwardDown(Pipe *pipe)
{
    if (!pipe->upstream || !pipe->client || pipe->frozen || pipe->broken)
        return;
    if (pipe->dropAnswer) {
        if (pipe->upstream->bytesAvailable() > 0) {
            ++m_answersDropped;
            close(pipe, true);
        }
        return;
    }
    QByteArray bytes = pipe->upstream->readAll();
    if (pipe->breakAt >= 0 && pipe->eventsToPass > 0) {
        // Forward up to and including the end of the events to pass.
        qsizetype i = 0;
        for (; i < bytes.size() && pipe->eventsToPass > 0; ++i) {
            if (bytes[i] == '\n' && pipe->lastByte == '\n')
                --pipe->eventsToPass;
            pipe->lastByte = bytes[i];
        }
        if (pipe->eventsToPass > 0 || i == bytes.size()) {
            pipe->downBytes += bytes.size();
            pipe->client->write(bytes);
            pipe->countFrom = pipe->downBytes;
            return;
        }
        pipe->client->write(bytes.left(i));
        pipe->downBytes += i;
        pipe->countFrom = pipe->downBytes;
        bytes = bytes.mid(i);
    }
    const qint64 breakAt = pipe->breakAt + pipe->countFrom;
    if (pipe->breakAt >= 0 && pipe->downBytes + bytes.size() >= breakAt && m_faultsDone < m_faultsPlanned) {
        bytes.truncate(breakAt - pipe->downBytes);
        pipe->client->write(bytes);
        pipe->downBytes += bytes.size();
        ++m_faultsDone;
        pipe->broken = true;
        switch (pipe->fault) {
        case Fault::Cut:
            pipe->client->disconnectFromHost();
            if (pipe->upstream)
                pipe->upstream->abort();
            break;
        case Fault::Reset:
            pipe->client->flush();
            close(pipe, true);
            break;
        case Fault::Freeze:
            pipe->frozen = true;
            break;
        }
        return;
    }
    pipe->downBytes += bytes.size();
    pipe->client->write(bytes);
}

bool CuttingProxy::refuse(Pipe *pipe, const QByteArray &bytes)
{
    if (m_refused.pattern().isEmpty())
        return false;
    // QNAM sends each request whole and does not pipeline, so a request
    // line starts the chunk.
    const qsizetype lineEnd = bytes.indexOf("\r\n");
    const QList<QByteArray> line = bytes.left(lineEnd).split(' ');
    if (line.size() != 3 || !line[2].startsWith("HTTP/"))
        return false;
    if (!m_refused.match(QString::fromLatin1(line[1])).hasMatch())
        return false;
    const QByteArray body = R"({"error":"Not Found"})";
    pipe->client->write("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                        QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    pipe->client->disconnectFromHost();
    return true;
}

void CuttingProxy::close(Pipe *pipe, bool reset)
{
    if (!m_pipes.removeOne(pipe))
        return;
    if (pipe->client) {
        pipe->client->disconnect(this);
        if (reset)
            pipe->client->abort();
        else
            pipe->client->disconnectFromHost();
        pipe->client->deleteLater();
    }
    if (pipe->upstream) {
        pipe->upstream->disconnect(this);
        pipe->upstream->abort();
        pipe->upstream->deleteLater();
    }
    delete pipe;
}

} // namespace sessionscope
