#pragma once

#include "net/result.h"

#include <QHostAddress>
#include <QTcpServer>
#include <QUrl>

namespace sessionscope {

// What SessionServer and EdgeProxy both do to open their port: a listening
// QTcpServer (the caller hands it to QAbstractHttpServer::bind, which owns
// it), or why not.
inline Result<QTcpServer *> listenTcp(const QHostAddress &host, quint16 port)
{
    auto *tcp = new QTcpServer();
    if (!tcp->listen(host, port)) {
        const QString why = tcp->errorString();
        delete tcp;
        return Error::make(
            QStringLiteral("Cannot listen on %1:%2: %3").arg(host.toString()).arg(port).arg(why));
    }
    return tcp;
}

// http://HOST:PORT, no trailing slash.
inline QUrl httpBaseUrl(const QHostAddress &host, quint16 port)
{
    QUrl url;
    url.setScheme(QStringLiteral("http"));
    url.setHost(host.toString());
    url.setPort(port);
    return url;
}

} // namespace sessionscope
