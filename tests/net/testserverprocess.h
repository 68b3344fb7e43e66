#pragma once

#include "net/connectionprofile.h"

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QUrl>

#include <chrono>
#include <memory>

namespace sessionscope {

// A real sessionscope-server for client tests: its own temporary data dir,
// loopback only, port 0 on the first start and the same port on restarts so
// clients can reconnect to the same URL.
class TestServerProcess
{
public:
    explicit TestServerProcess(QString binary = QStringLiteral(SESSIONSCOPE_SERVER_BINARY));
    ~TestServerProcess();

    // Starts and waits for "listening on http://HOST:PORT". `port` 0 keeps
    // the port of an earlier start, or lets the server pick one.
    bool start(const QStringList &extraArguments = {}, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // SIGKILL: the crash case, no goodbye to open connections.
    void kill();
    bool restart(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    bool isRunning() const;

    QString secretKey() const { return m_key; }
    quint16 port() const { return m_port; }
    QUrl url() const;
    QString dataDir() const { return m_dataDir.path(); }
    QString errorString() const { return m_error; }
    QByteArray output() const { return m_output; }

    // An embedded profile pointing at this server, secret key filled in.
    ConnectionProfile profile() const;

    // On tmpfs where there is one: the server fsyncs every commit, which
    // is what it should do but makes writing many records slow on disk.
    static QString dataDirTemplate();

private:
    QString m_binary;
    QString m_key = QStringLiteral("tr_dev_sessionscope_client_tests_0123456789");
    QTemporaryDir m_dataDir{dataDirTemplate()};
    std::unique_ptr<QProcess> m_process;
    QStringList m_extraArguments;
    quint16 m_port = 0;
    QString m_error;
    QByteArray m_output;
};

} // namespace sessionscope
