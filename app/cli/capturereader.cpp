#include "app/cli/capturereader.h"

#include <QFile>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sessionscope {

namespace {

QString systemError()
{
    return QString::fromLocal8Bit(std::strerror(errno));
}

} // namespace

CaptureReader::~CaptureReader()
{
    if (m_ownsFd)
        ::close(m_fd);
}

Result<void> CaptureReader::open(const QString &path)
{
    // Plain read(2): QFile's unbuffered read waits for a full chunk on a pipe,
    // which would hold back records of a live stream.
    if (path == u"-") {
        m_name = QStringLiteral("stdin");
        m_fd = STDIN_FILENO;
        m_ownsFd = false;
        return {};
    }
    m_name = path;
    m_fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0)
        return Error::make(QStringLiteral("cannot open %1: %2").arg(path, systemError()));
    m_ownsFd = true;
    return {};
}

Result<void> CaptureReader::run(const EventHandler &onEvent, const ErrorHandler &onError,
                                const ChunkHandler &afterChunk)
{
    if (m_fd < 0)
        return Error::make(QStringLiteral("no capture open"));
    QByteArray chunk(ChunkSize, Qt::Uninitialized);
    QList<SseEvent> events;
    for (;;) {
        const ssize_t n = ::read(m_fd, chunk.data(), size_t(ChunkSize));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::make(QStringLiteral("cannot read %1: %2").arg(m_name, systemError()));
        }
        if (n == 0)
            break;
        m_parser.feed(QByteArrayView(chunk.constData(), qsizetype(n)), events);
        for (const Error &error : m_parser.takeErrors())
            onError(error);
        for (const SseEvent &sse : std::as_const(events)) {
            S2Event event = m_decoder.decode(sse);
            onEvent(event);
            for (const Error &error : std::as_const(event.errors))
                onError(error);
            if (event.type == S2Event::Type::Error)
                onError(Error::make(QStringLiteral("the server sent an error event: ") + event.serverError));
        }
        events.clear(); // keeps the capacity
        if (afterChunk)
            afterChunk();
    }
    if (const auto error = m_parser.finish())
        onError(*error);
    return {};
}

} // namespace sessionscope
