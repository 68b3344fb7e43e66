#pragma once

#include "net/result.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QNetworkReply>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QUrl>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

class QNetworkAccessManager;

namespace sessionscope {

template <typename T>
using ResultCallback = std::function<void(Result<T>)>;

// Asked for the bearer before every attempt, so a refreshed token or a key
// loaded later is picked up by retries already in flight.
using BearerSource = std::function<QString()>;

struct HttpRequest
{
    QByteArray verb = "GET";
    QUrl url;
    QByteArray body;
    QByteArray contentType = "application/json";
    QList<QPair<QByteArray, QByteArray>> headers;
    // Whether sending the request twice cannot do harm; it decides
    // Error::retrySafe when the outcome of an attempt is unknown.
    bool idempotent = true;
};

struct HttpResponse
{
    int status = 0;
    QByteArray body;
    QList<QNetworkReply::RawHeaderPair> headers;

    std::optional<QByteArray> header(QByteArrayView name) const; // case-insensitive
    Result<QJsonObject> jsonObject() const;
};

// One place for what every REST call needs: bearer auth, a per-attempt
// timeout, waiting out 429 until x-ratelimit-reset, and turning any failure
// into an Error with the HTTP status, the server's own message and whether a
// retry is safe. Asynchronous: callbacks run on the transport's thread.
class RestTransport : public QObject
{
    Q_OBJECT

public:
    explicit RestTransport(QObject *parent = nullptr);
    ~RestTransport() override;

    // The manager is not owned; without one the transport makes its own.
    void setNetworkAccessManager(QNetworkAccessManager *manager);
    QNetworkAccessManager *networkAccessManager();

    void setBearerSource(BearerSource source) { m_bearer = std::move(source); }
    void setBearer(const QString &bearer);

    void setTimeout(std::chrono::milliseconds timeout) { m_timeout = timeout; }
    std::chrono::milliseconds timeout() const { return m_timeout; }

    // How long one request may spend waiting out 429s in total before the
    // 429 is handed to the caller.
    void setRateLimitBudget(std::chrono::milliseconds budget) { m_rateLimitBudget = budget; }

    // `done` is not called when `context` was given and has been destroyed,
    // nor after the transport itself is destroyed.
    void send(HttpRequest request, QObject *context, ResultCallback<HttpResponse> done);

    int pendingCount() const { return int(m_pending.size()); }

    static Error errorFromResponse(const HttpResponse &response, const HttpRequest &request);
    static QString serverMessage(const QByteArray &body);
    // x-ratelimit-reset (unix ms) or Retry-After, when the response has one.
    static std::optional<QDateTime> rateLimitReset(const HttpResponse &response);
    // A failed transfer (no HTTP status) described with its URL, credentials
    // masked. Refused connections are always safe to retry: nothing was sent.
    static Error networkError(QNetworkReply *reply, const HttpRequest &request, bool timedOut,
                              std::chrono::milliseconds timeout);
    static HttpResponse responseOf(QNetworkReply *reply, QByteArray body);

Q_SIGNALS:
    void rateLimited(const QUrl &url, const QDateTime &retryAt);

private:
    struct Pending;
    void start(const std::shared_ptr<Pending> &pending);
    void onFinished(const std::shared_ptr<Pending> &pending);
    void finish(const std::shared_ptr<Pending> &pending, Result<HttpResponse> result);

    QPointer<QNetworkAccessManager> m_manager;
    bool m_ownsManager = false;
    BearerSource m_bearer;
    std::chrono::milliseconds m_timeout{30000};
    std::chrono::milliseconds m_rateLimitBudget{120000};
    QList<std::shared_ptr<Pending>> m_pending;
};

} // namespace sessionscope
