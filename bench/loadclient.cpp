#include "bench/loadclient.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sessionscope::bench {

namespace {

constexpr size_t ReadBufferBytes = 256 * 1024;
constexpr int Wave = 50;                  // connections opened before waiting for their heads
constexpr int64_t HeadTimeoutUs = 20'000'000;

std::string errnoText(const char *what)
{
    return std::string(what) + ": " + std::strerror(errno);
}

bool writeAll(int fd, const std::string &data, std::string &error)
{
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 1000) > 0)
                continue;
        }
        error = errnoText("send");
        return false;
    }
    return true;
}

int connectLoopback(uint16_t port, std::string &error)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errnoText("socket");
        return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        error = errnoText("connect");
        ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

std::string hostHeader(const Target &target)
{
    return "Host: 127.0.0.1:" + std::to_string(target.port) + "\r\n";
}

// Status code of "HTTP/1.1 200 OK", 0 when it is not one.
int statusOf(const std::string &head)
{
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0)
        return 0;
    const size_t space = head.find(' ');
    return space == std::string::npos ? 0 : std::atoi(head.c_str() + space + 1);
}

// The value of a header in a response head, case-insensitive; empty when absent.
std::string headerValue(const std::string &head, const char *name)
{
    const size_t nameLength = std::strlen(name);
    size_t line = head.find("\r\n");
    while (line != std::string::npos && line + 2 < head.size()) {
        const size_t start = line + 2;
        const size_t end = head.find("\r\n", start);
        const size_t stop = end == std::string::npos ? head.size() : end;
        if (stop - start > nameLength && head[start + nameLength] == ':'
            && strncasecmp(head.c_str() + start, name, nameLength) == 0) {
            size_t v = start + nameLength + 1;
            while (v < stop && head[v] == ' ')
                ++v;
            return head.substr(v, stop - v);
        }
        line = end;
    }
    return {};
}

int64_t numberAfter(const std::string &text, const char *key)
{
    const size_t at = text.find(key);
    if (at == std::string::npos)
        return -1;
    const char *p = text.c_str() + at + std::strlen(key);
    if (*p < '0' || *p > '9')
        return -1;
    return std::strtoll(p, nullptr, 10);
}

} // namespace

int64_t nowUs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

SimpleResponse simpleRequest(const Target &target, const std::string &method, const std::string &path,
                             const std::string &body)
{
    SimpleResponse out;
    const int fd = connectLoopback(target.port, out.error);
    if (fd < 0)
        return out;
    std::string request = method + " " + path + " HTTP/1.1\r\n" + hostHeader(target) + "Authorization: Bearer "
                          + target.key + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                          + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!writeAll(fd, request, out.error)) {
        ::close(fd);
        return out;
    }
    std::string response;
    char buffer[16384];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 10'000) > 0) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            break;
        response.append(buffer, size_t(n));
    }
    ::close(fd);
    const size_t headEnd = response.find("\r\n\r\n");
    if (headEnd == std::string::npos) {
        out.error = "no complete response to " + method + " " + path;
        return out;
    }
    out.status = statusOf(response);
    out.body = response.substr(headEnd + 4);
    return out;
}

bool SseSeqScanner::feed(const char *data, size_t size, const std::function<void(int64_t)> &onSeq)
{
    while (size > 0) {
        switch (m_state) {
        case State::Size: {
            const char *nl = static_cast<const char *>(std::memchr(data, '\n', size));
            const size_t take = nl ? size_t(nl - data) + 1 : size;
            m_sizeLine.append(data, take);
            data += take;
            size -= take;
            if (!nl)
                break;
            char *end = nullptr;
            const unsigned long long chunk = std::strtoull(m_sizeLine.c_str(), &end, 16);
            if (end == m_sizeLine.c_str())
                return false;
            m_sizeLine.clear();
            if (chunk == 0) {
                m_state = State::Ended;
                return true;
            }
            m_remaining = size_t(chunk);
            m_state = State::Data;
            break;
        }
        case State::Data: {
            const size_t take = std::min(m_remaining, size);
            feedPayload(data, take, onSeq);
            data += take;
            size -= take;
            m_remaining -= take;
            if (m_remaining == 0)
                m_state = State::DataEnd;
            break;
        }
        case State::DataEnd: {
            const char c = *data++;
            --size;
            if (c == '\n')
                m_state = State::Size;
            else if (c != '\r')
                return false;
            break;
        }
        case State::Ended:
            return true;
        }
    }
    return true;
}

void SseSeqScanner::feedPayload(const char *data, size_t size, const std::function<void(int64_t)> &onSeq)
{
    while (size > 0) {
        const char *nl = static_cast<const char *>(std::memchr(data, '\n', size));
        if (!nl) {
            m_line.append(data, size);
            return;
        }
        const size_t length = size_t(nl - data);
        if (m_line.empty()) {
            scanLine(data, length, onSeq);
        } else {
            m_line.append(data, length);
            scanLine(m_line.data(), m_line.size(), onSeq);
            m_line.clear();
        }
        data += length + 1;
        size -= length + 1;
    }
}

void SseSeqScanner::scanLine(const char *line, size_t size, const std::function<void(int64_t)> &onSeq)
{
    static constexpr char Prefix[] = "data: {\"records\":[";
    static constexpr char Key[] = "{\"seq_num\":";
    constexpr size_t PrefixLength = sizeof Prefix - 1;
    constexpr size_t KeyLength = sizeof Key - 1;
    if (size < PrefixLength || std::memcmp(line, Prefix, PrefixLength) != 0)
        return;
    // Bodies are JSON strings, so their quotes are escaped and cannot match;
    // the tail's {"seq_num": follows a ':' and is skipped.
    const char *p = line + PrefixLength - 1;
    const char *end = line + size;
    while (p < end) {
        const char *hit = static_cast<const char *>(memmem(p, size_t(end - p), Key, KeyLength));
        if (!hit)
            return;
        if (hit > line && (hit[-1] == '[' || hit[-1] == ','))
            onSeq(std::strtoll(hit + KeyLength, nullptr, 10));
        p = hit + KeyLength;
    }
}

struct LoadLoop::Connection
{
    enum class Kind { Subscriber, Appender } kind;
    int index = 0;
    int fd = -1;
    bool headDone = false;
    std::string head;
    SseSeqScanner scanner;
    // appenders
    bool busy = false;
    int64_t sentUs = 0;
    std::string response;

    ~Connection()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

LoadLoop::LoadLoop() : m_epoll(::epoll_create1(EPOLL_CLOEXEC)), m_buffer(ReadBufferBytes) {}

LoadLoop::~LoadLoop()
{
    m_subscribers.clear();
    m_appenders.clear();
    if (m_epoll >= 0)
        ::close(m_epoll);
}

std::string LoadLoop::openConnection(const Target &target, std::unique_ptr<Connection> &out)
{
    std::string error;
    const int fd = connectLoopback(target.port, error);
    if (fd < 0)
        return error;
    out = std::make_unique<Connection>();
    out->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = out.get();
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0)
        return errnoText("epoll_ctl");
    return {};
}

std::string LoadLoop::openSubscribers(const Target &target, int count, RecordHandler onRecord)
{
    m_onRecord = std::move(onRecord);
    const std::string request = "GET /realtime/v1/sessions/" + target.session + "/out HTTP/1.1\r\n" + hostHeader(target)
                                + "Authorization: Bearer " + target.key
                                + "\r\nAccept: text/event-stream\r\nTimeout-Seconds: 600\r\n\r\n";
    while (int(m_subscribers.size()) < count) {
        const size_t waveStart = m_subscribers.size();
        const size_t waveEnd = std::min<size_t>(size_t(count), waveStart + Wave);
        for (size_t i = waveStart; i < waveEnd; ++i) {
            std::unique_ptr<Connection> c;
            if (std::string e = openConnection(target, c); !e.empty())
                return "subscriber " + std::to_string(i) + ": " + e;
            c->kind = Connection::Kind::Subscriber;
            c->index = int(i);
            std::string error;
            if (!writeAll(c->fd, request, error))
                return "subscriber " + std::to_string(i) + ": " + error;
            m_subscribers.push_back(std::move(c));
        }
        const int64_t deadline = nowUs() + HeadTimeoutUs;
        for (;;) {
            bool all = true;
            for (size_t i = waveStart; i < waveEnd; ++i)
                all = all && m_subscribers[i]->headDone;
            if (all)
                break;
            if (nowUs() > deadline)
                return "subscribers got no response head within 20 s";
            if (std::string e = poll(10'000); !e.empty())
                return e;
        }
    }
    return {};
}

std::string LoadLoop::openAppenders(const Target &target, int count, AckHandler onAck)
{
    m_onAck = std::move(onAck);
    m_appendSession = target.session;
    m_appendHeaders = hostHeader(target) + "Authorization: Bearer " + target.key
                      + "\r\nContent-Type: application/json\r\n";
    for (int i = 0; i < count; ++i) {
        std::unique_ptr<Connection> c;
        if (std::string e = openConnection(target, c); !e.empty())
            return "appender " + std::to_string(i) + ": " + e;
        c->kind = Connection::Kind::Appender;
        c->index = i;
        c->headDone = true;
        m_appenders.push_back(std::move(c));
    }
    return {};
}

bool LoadLoop::appenderIdle(int appender) const
{
    return !m_appenders.at(size_t(appender))->busy;
}

void LoadLoop::append(int appender, const std::string &partId, const std::string &body)
{
    Connection &c = *m_appenders.at(size_t(appender));
    std::string request;
    request.reserve(256 + body.size());
    request += "POST /realtime/v1/sessions/";
    request += m_appendSession;
    request += "/out/append HTTP/1.1\r\n";
    request += m_appendHeaders;
    request += "X-Part-Id: ";
    request += partId;
    request += "\r\nContent-Length: ";
    request += std::to_string(body.size());
    request += "\r\n\r\n";
    request += body;
    c.busy = true;
    c.sentUs = nowUs();
    std::string error;
    if (!writeAll(c.fd, request, error))
        m_pendingError = "appender " + std::to_string(appender) + ": " + error;
}

std::string LoadLoop::poll(int64_t timeoutUs)
{
    if (!m_pendingError.empty())
        return m_pendingError;
    epoll_event events[256];
    const int timeoutMs = timeoutUs <= 0 ? 0 : int((timeoutUs + 999) / 1000);
    const int n = ::epoll_wait(m_epoll, events, 256, timeoutMs);
    if (n < 0)
        return errno == EINTR ? std::string() : errnoText("epoll_wait");
    for (int i = 0; i < n; ++i) {
        auto *c = static_cast<Connection *>(events[i].data.ptr);
        if (std::string e = onReadable(*c, nowUs()); !e.empty())
            return e;
    }
    return m_pendingError;
}

std::string LoadLoop::onReadable(Connection &c, int64_t receivedUs)
{
    const std::string who =
        (c.kind == Connection::Kind::Subscriber ? "subscriber " : "appender ") + std::to_string(c.index);
    const ssize_t n = ::recv(c.fd, m_buffer.data(), m_buffer.size(), 0);
    if (n == 0)
        return who + ": the server closed the connection";
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? std::string() : who + ": " + errnoText("recv");
    const char *data = m_buffer.data();
    size_t size = size_t(n);

    if (c.kind == Connection::Kind::Subscriber) {
        if (!c.headDone) {
            c.head.append(data, size);
            const size_t end = c.head.find("\r\n\r\n");
            if (end == std::string::npos)
                return {};
            if (statusOf(c.head) != 200)
                return who + ": " + c.head.substr(0, c.head.find("\r\n"));
            c.headDone = true;
            const std::string rest = c.head.substr(end + 4);
            c.head.clear();
            const int index = c.index;
            if (!c.scanner.feed(rest.data(), rest.size(),
                                [&](int64_t seq) { m_onRecord(index, seq, receivedUs); }))
                return who + ": malformed chunked body";
            return {};
        }
        const int index = c.index;
        if (!c.scanner.feed(data, size, [&](int64_t seq) { m_onRecord(index, seq, receivedUs); }))
            return who + ": malformed chunked body";
        if (c.scanner.ended())
            return who + ": the stream ended";
        return {};
    }

    c.response.append(data, size);
    for (;;) {
        const size_t end = c.response.find("\r\n\r\n");
        if (end == std::string::npos)
            return {};
        const std::string head = c.response.substr(0, end);
        const size_t length = size_t(std::atoll(headerValue(head, "Content-Length").c_str()));
        if (c.response.size() < end + 4 + length)
            return {};
        const std::string body = c.response.substr(end + 4, length);
        c.response.erase(0, end + 4 + length);
        const int status = statusOf(head);
        if (status != 200)
            return who + ": append answered " + std::to_string(status) + " " + body;
        const int64_t seq = numberAfter(body, "\"seq\":");
        if (seq < 0)
            return who + ": append answered without a seq: " + body;
        c.busy = false;
        m_onAck(c.index, seq, c.sentUs, receivedUs);
    }
}

} // namespace sessionscope::bench
