#include "testserverprocess.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>

namespace sessionscope {

QString TestServerProcess::dataDirTemplate()
{
    const QFileInfo shm(QStringLiteral("/dev/shm"));
    const QString base = shm.isDir() && shm.isWritable() ? shm.filePath() : QDir::tempPath();
    return base + QStringLiteral("/sessionscope-client-test-XXXXXX");
}

TestServerProcess::TestServerProcess(QString binary) : m_binary(std::move(binary)) {}

TestServerProcess::~TestServerProcess()
{
    kill();
}

bool TestServerProcess::isRunning() const
{
    return m_process && m_process->state() == QProcess::Running;
}

QUrl TestServerProcess::url() const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port));
}

ConnectionProfile TestServerProcess::profile() const
{
    ConnectionProfile p = ConnectionProfile::embedded(QStringLiteral("test server"), url());
    p.secretKey = m_key;
    return p;
}

bool TestServerProcess::start(const QStringList &extraArguments, std::chrono::milliseconds timeout)
{
    kill();
    if (!m_dataDir.isValid()) {
        m_error = QStringLiteral("cannot create a temporary data dir");
        return false;
    }
    m_extraArguments = extraArguments;
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    QStringList args{QStringLiteral("--host"), QStringLiteral("127.0.0.1"),
                     QStringLiteral("--port"), QString::number(m_port),
                     QStringLiteral("--data-dir"), m_dataDir.path(),
                     QStringLiteral("--secret-key"), m_key};
    args += extraArguments;
    m_output.clear();
    m_process->start(m_binary, args);
    if (!m_process->waitForStarted(int(timeout.count()))) {
        m_error = QStringLiteral("cannot start %1: %2").arg(m_binary, m_process->errorString());
        return false;
    }
    static const QRegularExpression listening(QStringLiteral(R"(listening on http://[^:\s]+:(\d+))"));
    const QDeadlineTimer deadline(timeout);
    while (!deadline.hasExpired()) {
        if (m_process->state() != QProcess::Running) {
            m_error = QStringLiteral("the server exited: %1")
                          .arg(QString::fromUtf8(m_output + m_process->readAllStandardError()));
            return false;
        }
        m_process->waitForReadyRead(int(qMin<qint64>(deadline.remainingTime(), 200)));
        m_output += m_process->readAllStandardOutput();
        const auto match = listening.match(QString::fromUtf8(m_output));
        if (match.hasMatch()) {
            m_port = quint16(match.captured(1).toUInt());
            return true;
        }
    }
    m_error = QStringLiteral("no \"listening on\" line within %1 ms; output: %2")
                  .arg(timeout.count())
                  .arg(QString::fromUtf8(m_output + m_process->readAllStandardError()));
    return false;
}

bool TestServerProcess::restart(std::chrono::milliseconds timeout)
{
    return start(m_extraArguments, timeout);
}

void TestServerProcess::kill()
{
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        m_process->kill();
        m_process->waitForFinished(10000);
    }
    m_process.reset();
}

} // namespace sessionscope
