#pragma once

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>

#include <random>

namespace sessionscope {

// A TCP forwarder between a client and the real server that breaks
// connections the way networks do: it cuts the server-to-client direction
// after a random number of bytes (with a FIN or a reset), or freezes it so
// the client's stall timer has to notice. Loopback only.
class CuttingProxy : public QObject
{
    Q_OBJECT

public:
    enum class Fault { Cut, Reset, Freeze };

    explicit CuttingProxy(quint16 targetPort, QObject *parent = nullptr);
    ~CuttingProxy() override;

    bool listen();
    quint16 port() const { return m_server.serverPort(); }
    QString url() const;
    void setTargetPort(quint16 port) { m_targetPort = port; }

    // New connections each break after a random number of server bytes in
    // [minBytes, maxBytes] until `count` faults have happened (a connection
    // that ends on its own before its break point does not count); later
    // ones pass untouched.
    //
    // With passEventChance > 0 the count starts only after a random number
    // of whole SSE events (each passed with that chance, so a connection
    // gets past k events with chance p^k): a stream of big catch-up batches
    // makes progress at a known rate however the batches are sized.
    void planFaults(int count, qint64 minBytes, qint64 maxBytes, QList<Fault> kinds = {Fault::Cut, Fault::Reset},
                    double passEventChance = 0);
    // Drop the server's answer: forward the request, then close the client
    // connection as soon as the server starts answering (a lost response).
    void dropNextAnswers(int count) { m_dropAnswers = count; }

    // Requests whose path matches get a 404 from the proxy itself: a backend
    // without a route (Trigger.dev has no /runs extension).
    void refusePaths(const QRegularExpression &pattern) { m_refused = pattern; }

    int faultsDone() const { return m_faultsDone; }
    int faultsPlanned() const { return m_faultsPlanned; }
    int connections() const { return m_connections; }
    int answersDropped() const { return m_answersDropped; }
    void seed(quint32 seed) { m_random.seed(seed); }

private:
    struct Pipe
    {
        QPointer<QTcpSocket> client;
        QPointer<QTcpSocket> upstream;
        QByteArray pendingUp; // client bytes that arrived before upstream connected
        qint64 downBytes = 0;
        qint64 breakAt = -1; // -1: never
        int eventsToPass = 0;  // whole SSE events before counting starts
        qint64 countFrom = 0;  // downBytes where counting started
        char lastByte = 0;     // to see "\n\n" split across reads
        Fault fault = Fault::Cut;
        bool dropAnswer = false;
        bool frozen = false;
        bool broken = false; // the fault has happened
    };

    void onNewConnection();
    void forwardDown(Pipe *pipe);
    void close(Pipe *pipe, bool reset);
    bool refuse(Pipe *pipe, const QByteArray &bytes);

    QTcpServer m_server;
    quint16 m_targetPort;
    QList<Pipe *> m_pipes;
    std::mt19937 m_random{12345};
    int m_faultsPlanned = 0;
    qint64 m_minBytes = 0;
    qint64 m_maxBytes = 0;
    QList<Fault> m_kinds;
    double m_passEventChance = 0;
    int m_faultsDone = 0;
    int m_connections = 0;
    int m_dropAnswers = 0;
    int m_answersDropped = 0;
    QRegularExpression m_refused;
};

} // namespace sessionscope
