#pragma once

#include "net/connectionprofile.h"
#include "net/resttransport.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace sessionscope {

// Writes `.out` records the way an agent does (POST .../out/append with the
// secret key), for tests that need a stream to read. Control and command
// records use the embedded server's X-Record-Headers extension.
class TestStreamWriter
{
public:
    explicit TestStreamWriter(const ConnectionProfile &profile);

    // Waits for the answer; the result is the record's seq.
    Result<qint64> append(const QString &session, const QByteArray &body, const QString &partId = {},
                          Channel channel = Channel::Out);
    // A record exactly as given: headers and body stored as they are.
    Result<qint64> appendRecord(const QString &session, const QList<StreamHeader> &headers, const QByteArray &body);
    Result<qint64> appendControl(const QString &session, const QByteArray &subtype,
                                 const QList<StreamHeader> &extraHeaders = {});
    Result<qint64> appendCommand(const QString &session, const QByteArray &op, const QByteArray &body = {});

    // `count` data records with part ids "<prefix><i>", up to `parallel` in
    // flight at once. Waits for all of them.
    Result<void> appendMany(const QString &session, int count, const QString &prefix = QStringLiteral("p"),
                            int parallel = 12);

private:
    HttpRequest request(const QString &session, Channel channel) const;
    Result<qint64> send(HttpRequest request);

    ConnectionProfile m_profile;
    RestTransport m_transport;
};

} // namespace sessionscope
