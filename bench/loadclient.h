#pragma once

// The HTTP/1.1 side of bench "server": many keep-alive connections to one
// sessionscope-server on loopback, driven by one epoll loop per thread so that
// a thousand SSE subscribers cost the load tool as little CPU as possible
// (the server under test shares the machine). Appenders POST one record at a
// time and report the seq each acknowledgement carries; subscribers decode the
// chunked SSE response just far enough to find every record's seq_num.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sessionscope::bench {

// CLOCK_MONOTONIC in microseconds.
int64_t nowUs();

struct Target
{
    uint16_t port = 0;
    std::string key; // secret key, sent as a bearer token only
    std::string session;
};

// One blocking request on a fresh connection, for setup (creating sessions).
struct SimpleResponse
{
    int status = 0;
    std::string body;
    std::string error;
};
SimpleResponse simpleRequest(const Target &target, const std::string &method, const std::string &path,
                             const std::string &body);

// The SSE side: a chunked body of S2 batch events, reduced to record seqs.
class SseSeqScanner
{
public:
    // Calls onSeq(seq) for each record of each batch event; false on a
    // malformed chunked frame.
    bool feed(const char *data, size_t size, const std::function<void(int64_t)> &onSeq);
    bool ended() const { return m_state == State::Ended; }

private:
    enum class State { Size, Data, DataEnd, Ended };
    void feedPayload(const char *data, size_t size, const std::function<void(int64_t)> &onSeq);
    void scanLine(const char *line, size_t size, const std::function<void(int64_t)> &onSeq);

    State m_state = State::Size;
    std::string m_sizeLine;
    size_t m_remaining = 0;
    std::string m_line; // an SSE line cut by a read or a chunk boundary
};

// A set of connections run by one epoll loop on the calling thread.
class LoadLoop
{
public:
    LoadLoop();
    ~LoadLoop();
    LoadLoop(const LoadLoop &) = delete;
    LoadLoop &operator=(const LoadLoop &) = delete;

    // --- subscribers: GET .../out (SSE) from the start of the stream.
    // onRecord(subscriber, seq, receivedUs) runs for every record received.
    using RecordHandler = std::function<void(int subscriber, int64_t seq, int64_t receivedUs)>;
    // Opens `count` subscriptions in waves (the listen backlog is short) and
    // returns once every one has its response head, or with an error.
    std::string openSubscribers(const Target &target, int count, RecordHandler onRecord);

    // --- appenders: keep-alive POST .../out/append with X-Part-Id.
    using AckHandler = std::function<void(int appender, int64_t seq, int64_t sentUs, int64_t ackUs)>;
    std::string openAppenders(const Target &target, int count, AckHandler onAck);
    bool appenderIdle(int appender) const;
    // Sends one append (body is the chunk JSON) on an idle appender.
    void append(int appender, const std::string &partId, const std::string &body);

    // Waits up to timeoutUs for socket events and handles them. An error
    // (a refused append, a dropped connection) is returned and ends the bench.
    std::string poll(int64_t timeoutUs);

private:
    struct Connection;
    std::string openConnection(const Target &target, std::unique_ptr<Connection> &out);
    std::string onReadable(Connection &c, int64_t nowUs);

    int m_epoll = -1;
    std::vector<std::unique_ptr<Connection>> m_subscribers;
    std::vector<std::unique_ptr<Connection>> m_appenders;
    RecordHandler m_onRecord;
    AckHandler m_onAck;
    std::string m_appendSession;
    std::string m_appendHeaders; // Host, Authorization, Content-Type
    std::string m_pendingError;
    std::vector<char> m_buffer;
};

} // namespace sessionscope::bench
