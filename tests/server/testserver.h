#pragma once

#include "httptestclient.h"
#include "server/serverconfig.h"
#include "server/sessionserver.h"

#include <QTemporaryDir>

#include <memory>

namespace sessionscope::test {

// A SessionServer on 127.0.0.1, a free port and a fresh temporary data dir,
// running in the test's thread. restart() replaces it with a new server on the
// same data dir (what a process restart sees).
class TestServer
{
public:
    static constexpr char SecretKey[] = "tr_dev_sessionscope_test_secret_0123456789";

    explicit TestServer(ServerConfig overrides = {});
    ~TestServer();

    bool start();
    bool restart();
    void stop();

    SessionServer &server() { return *m_server; }
    QUrl base() const { return m_server->baseUrl(); }
    QString dataDir() const { return m_dir.path(); }
    ServerConfig &config() { return m_config; }

    HttpTestClient client(const QByteArray &bearer = SecretKey) const
    {
        return HttpTestClient(base(), bearer);
    }
    HttpTestClient anonymous() const { return HttpTestClient(base(), {}); }

    // POST /api/v1/sessions with a minimal valid body; returns the JSON answer.
    TestJson createSession(const QString &externalId = {},
                           const TestJson &extra = TestJson::object());
    // POST .../in/append; the response.
    HttpResponse appendIn(const QString &key, const QByteArray &body,
                          const QByteArray &partId = {});
    HttpResponse appendOut(const QString &key, const QByteArray &body,
                           const QByteArray &partId = {}, const QByteArray &recordHeaders = {});

    static TestJson sessionBody(const QString &externalId = {},
                                const TestJson &extra = TestJson::object());

private:
    QTemporaryDir m_dir;
    ServerConfig m_config;
    std::unique_ptr<SessionServer> m_server;
};

} // namespace sessionscope::test
