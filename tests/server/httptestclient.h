#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrl>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>

// QCOMPARE cannot print nlohmann values; this compares and prints both.
#define QCOMPARE_JSON(actual, expected)                                                            \
    do {                                                                                           \
        const ::sessionscope::test::TestJson actual_ = (actual);                                   \
        const ::sessionscope::test::TestJson expected_ = (expected);                               \
        if (!(actual_ == expected_)) {                                                             \
            QFAIL(qPrintable(QStringLiteral("JSON differs: %1 != %2")                              \
                                 .arg(QString::fromStdString(actual_.dump()),                      \
                                      QString::fromStdString(expected_.dump()))));                 \
        }                                                                                          \
    } while (false)

namespace sessionscope::test {

using TestJson = nlohmann::ordered_json;
using TestHeader = QPair<QByteArray, QByteArray>;

// The string at `key` of a JSON object, empty when absent or not a string.
QByteArray jsonString(const TestJson &object, const char *key);

struct HttpResponse
{
    int status = 0; // 0: no response (connection failed or timed out)
    QList<TestHeader> headers;
    QByteArray body;
    QString error;

    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    // The body as JSON (a discarded value when it is not JSON).
    TestJson json() const;
};

// A deliberately small HTTP/1.1 client on a raw QTcpSocket, so tests see the
// exact bytes the server writes (framing, headers, chunking) and can pipeline.
// It waits by spinning the event loop, so the server may live in the same
// thread.
class HttpTestClient
{
public:
    explicit HttpTestClient(QUrl base, QByteArray authorization = {});

    void setAuthorization(const QByteArray &bearerValue) { m_auth = bearerValue; }
    HttpResponse request(const QByteArray &method, const QByteArray &path,
                         const QByteArray &body = {}, const QList<TestHeader> &headers = {},
                         int timeoutMs = 15000) const;
    HttpResponse get(const QByteArray &path, const QList<TestHeader> &headers = {}) const;
    HttpResponse post(const QByteArray &path, const QByteArray &body,
                      const QList<TestHeader> &headers = {}) const;
    HttpResponse postJson(const QByteArray &path, const TestJson &body,
                          const QList<TestHeader> &headers = {}) const;
    HttpResponse patchJson(const QByteArray &path, const TestJson &body,
                           const QList<TestHeader> &headers = {}) const;

    // Writes `raw` as is on one connection and reads `count` responses
    // (`headFlags[i]` marks responses to HEAD requests, which have no body).
    QList<HttpResponse> raw(const QByteArray &raw, int count, const QList<bool> &headFlags = {},
                            int timeoutMs = 15000) const;

    // The request bytes for `method path` with this client's authorization.
    QByteArray requestBytes(const QByteArray &method, const QByteArray &path,
                            const QByteArray &body, const QList<TestHeader> &headers) const;

    // Parses one response off the front of `buffer`; nullopt until complete.
    static std::optional<HttpResponse> parseOne(QByteArray &buffer, bool eof, bool head);
    // Decodes a chunked body in place; false until the terminating chunk.
    static bool dechunk(QByteArray &encoded, QByteArray &decoded, qsizetype *consumed);

    QUrl base() const { return m_base; }

    // Runs the event loop until `condition` holds (checked every millisecond)
    // or the time is up; QTest::qWaitFor sleeps 10 ms between checks, which
    // adds up over a thousand connections.
    static bool spinUntil(const std::function<bool()> &condition, int timeoutMs);

private:
    QUrl m_base;
    QByteArray m_auth;
};

} // namespace sessionscope::test
