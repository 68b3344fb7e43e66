#pragma once

#include "net/streamrecord.h"
#include "server/httprouter.h"
#include "server/routecontext.h"
#include "server/sessionstore.h"

#include <QObject>

namespace sessionscope {

class SseSubscriber;

// /realtime/v1/sessions/{idOrExternalId}/{in|out}: append, SSE subscribe (in
// S2's batch format), the non-SSE records drain, and HEAD/PUT as the webapp
// answers them. Owns the live SSE subscribers.
class ChannelRoutes : public QObject
{
    Q_OBJECT

public:
    // The append body cap (a DoS guard; the record limit is checked after wrapping).
    static constexpr qint64 MaxAppendBodyBytes = 1024 * 1024;

    explicit ChannelRoutes(RouteContext context, QObject *parent = nullptr);
    ~ChannelRoutes() override;

    void registerRoutes(HttpRouter &router);

    int subscriberCount() const { return int(m_subscribers.size()); }
    // Ends every subscription with `[DONE]` (shutdown).
    void closeSubscribers();

    // Last-Event-ID as the webapp reads it: the leading integer before any
    // '-'; the next seq to send, or 0 ("from the start") when it is not one.
    static qint64 startSeqFromLastEventId(QByteArrayView lastEventId);

    // The pieces of an append that read the request, for callers without one.
    // X-Part-Id: opaque, 1..64 printable ASCII characters.
    static bool validPartId(QByteArrayView id);
    // X-Record-Headers: a JSON array of [name, value] string pairs.
    static std::optional<QList<StreamHeader>> parseRecordHeaders(QByteArrayView text);
    // The record body stored for an appended text: {"data": "<text>", "id":
    // "<partId>"} with invalid UTF-8 replaced and, on `.in`, a client's claim
    // of webhook trust removed.
    static QByteArray appendRecordBody(QByteArrayView appended, Channel channel,
                                       QByteArrayView partId);

Q_SIGNALS:
    void subscriberCountChanged(int count);

private:
    void append(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key,
                Channel channel);
    void subscribe(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key,
                   Channel channel);
    void records(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key,
                 Channel channel);
    void initialize(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key,
                    Channel channel);

    // The session the URL names (nullopt when there is none) and the stream key
    // it addresses. Returns false after answering (500).
    bool resolve(const HttpExchange::Ptr &exchange, const QString &key,
                 std::optional<SessionRow> *session, QString *addressingKey);
    // The loader preamble of the read routes: 404 for an unknown friendly id,
    // 403 without read scope; else the stream key.
    std::optional<QString> resolveForRead(const HttpExchange::Ptr &exchange,
                                          const AuthContext &auth, const QString &key);
    bool peekSettled(const QString &addressingKey);

    RouteContext m_ctx;
    QList<SseSubscriber *> m_subscribers;
};

} // namespace sessionscope
