#pragma once

// For the models suites that run against a real sessionscope-server.

#include "net/sessionsclient.h"

#include "awaitresult.h"

#include <QJsonObject>
#include <QStringList>
#include <QUuid>

namespace sessionscope::testing {

inline QString uniqueChatId(const QString &prefix)
{
    return prefix + u'-' + QUuid::createUuid().toString(QUuid::Id128).left(12);
}

// A session of a task no agent serves, so the test alone writes its streams.
inline Result<CreatedSession> createTestSession(SessionsClient &client, const QString &externalId,
                                                const QJsonObject &clientData = {}, const QStringList &tags = {})
{
    CreateSessionRequest request;
    request.externalId = externalId;
    request.taskIdentifier = QStringLiteral("models-tests");
    request.basePayload = QJsonObject{{QStringLiteral("chatId"), externalId},
                                      {QStringLiteral("trigger"), QStringLiteral("preload")}};
    if (!clientData.isEmpty())
        request.basePayload.insert(QStringLiteral("metadata"), clientData);
    request.tags = tags;
    return awaitResult<CreatedSession>([&](auto done) { client.createSession(request, nullptr, done); });
}

} // namespace sessionscope::testing
