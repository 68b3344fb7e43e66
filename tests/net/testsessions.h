#pragma once

#include "net/sessionsclient.h"

#include "awaitresult.h"

#include <QUuid>

namespace sessionscope {

// "prefix-<12 hex>": unique names so tests sharing a server never collide.
inline QString uniqueName(const char *prefix)
{
    return QStringLiteral("%1-%2").arg(QLatin1String(prefix), QUuid::createUuid().toString(QUuid::Id128).left(12));
}

// A chat.agent session whose first run preloads, chat id = external id, as
// the official clients create them.
inline CreateSessionRequest chatSessionRequest(const QString &externalId)
{
    CreateSessionRequest r;
    r.externalId = externalId;
    r.taskIdentifier = QStringLiteral("ai-chat");
    r.basePayload = QJsonObject{{QStringLiteral("chatId"), externalId},
                                {QStringLiteral("trigger"), QStringLiteral("preload")}};
    return r;
}

inline Result<CreatedSession> createChatSession(const ConnectionProfile &profile, const QString &externalId)
{
    SessionsClient client(profile);
    const CreateSessionRequest request = chatSessionRequest(externalId);
    return awaitResult<CreatedSession>([&](auto done) { client.createSession(request, nullptr, done); });
}

} // namespace sessionscope
