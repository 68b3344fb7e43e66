#include "testserver.h"

namespace sessionscope::test {

TestServer::TestServer(ServerConfig overrides) : m_config(std::move(overrides))
{
    m_config.host = QHostAddress(QHostAddress::LocalHost);
    m_config.port = 0;
    m_config.dataDir = m_dir.path();
    if (m_config.secretKey.isEmpty())
        m_config.secretKey = QString::fromLatin1(SecretKey);
}

TestServer::~TestServer()
{
    stop();
}

bool TestServer::start()
{
    m_server = std::make_unique<SessionServer>(m_config);
    auto r = m_server->start();
    if (!r)
        qWarning("server start failed: %s", qPrintable(r.error().message));
    return r.ok();
}

bool TestServer::restart()
{
    stop();
    return start();
}

void TestServer::stop()
{
    m_server.reset();
}

TestJson TestServer::sessionBody(const QString &externalId, const TestJson &extra)
{
    TestJson body = {{"type", "chat.agent"},
                     {"taskIdentifier", "test-agent"},
                     {"triggerConfig", {{"basePayload", {{"chatId", externalId.toStdString()}}}}}};
    if (!externalId.isEmpty())
        body["externalId"] = externalId.toStdString();
    for (auto it = extra.begin(); it != extra.end(); ++it)
        body[it.key()] = it.value();
    return body;
}

TestJson TestServer::createSession(const QString &externalId, const TestJson &extra)
{
    const HttpResponse r = client().postJson("/api/v1/sessions", sessionBody(externalId, extra));
    if (r.status != 201 && r.status != 200)
        qWarning("create session: %d %s", r.status, r.body.constData());
    return r.json();
}

HttpResponse TestServer::appendIn(const QString &key, const QByteArray &body,
                                  const QByteArray &partId)
{
    QList<TestHeader> headers;
    if (!partId.isEmpty())
        headers.append(TestHeader("X-Part-Id", partId));
    return client().post("/realtime/v1/sessions/" + QUrl::toPercentEncoding(key) + "/in/append",
                         body, headers);
}

HttpResponse TestServer::appendOut(const QString &key, const QByteArray &body,
                                   const QByteArray &partId, const QByteArray &recordHeaders)
{
    QList<TestHeader> headers;
    if (!partId.isEmpty())
        headers.append(TestHeader("X-Part-Id", partId));
    if (!recordHeaders.isEmpty())
        headers.append(TestHeader("X-Record-Headers", recordHeaders));
    return client().post("/realtime/v1/sessions/" + QUrl::toPercentEncoding(key) + "/out/append",
                         body, headers);
}

} // namespace sessionscope::test
