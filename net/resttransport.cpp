#include "net/resttransport.h"

#include "net/redaction.h"

#include <QJsonDocument>
#include <QJsonParseError>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkRequest>
#include <QTimer>

namespace sessionscope {

Q_LOGGING_CATEGORY(lcRest, "sessionscope.net.rest", QtInfoMsg)

struct RestTransport::Pending
{
    HttpRequest request;
    QPointer<QObject> context;
    bool hasContext = false;
    ResultCallback<HttpResponse> done;
    QPointer<QNetworkReply> reply;
    QTimer timer;
    std::chrono::milliseconds rateLimitWaited{0};
    bool timedOut = false;
};

std::optional<QByteArray> HttpResponse::header(QByteArrayView name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return std::nullopt;
}

Result<QJsonObject> HttpResponse::jsonObject() const
{
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        Error e = Error::make(QStringLiteral("The server answered %1 with a body that is not a JSON object (%2)")
                                  .arg(status)
                                  .arg(err.error != QJsonParseError::NoError ? err.errorString()
                                                                             : QStringLiteral("another JSON value")));
        e.httpStatus = status;
        return e;
    }
    return doc.object();
}

RestTransport::RestTransport(QObject *parent) : QObject(parent) {}

RestTransport::~RestTransport()
{
    // Callers may already be gone: drop the callbacks, then abort quietly.
    const auto pending = m_pending;
    m_pending.clear();
    for (const auto &p : pending) {
        p->done = nullptr;
        if (p->reply) {
            p->reply->disconnect(this);
            p->reply->abort();
            p->reply->deleteLater();
        }
    }
    if (m_ownsManager)
        delete m_manager.data();
}

void RestTransport::setNetworkAccessManager(QNetworkAccessManager *manager)
{
    if (m_ownsManager && m_manager != manager)
        m_manager->deleteLater();
    m_manager = manager;
    m_ownsManager = false;
}

QNetworkAccessManager *RestTransport::networkAccessManager()
{
    if (!m_manager) {
        m_manager = new QNetworkAccessManager;
        m_ownsManager = true;
    }
    return m_manager;
}

void RestTransport::setBearer(const QString &bearer)
{
    m_bearer = [bearer] { return bearer; };
}

void RestTransport::send(HttpRequest request, QObject *context, ResultCallback<HttpResponse> done)
{
    auto p = std::make_shared<Pending>();
    p->request = std::move(request);
    p->context = context;
    p->hasContext = context != nullptr;
    p->done = std::move(done);
    p->timer.setSingleShot(true);
    // Weak: the timer lives inside Pending, a strong capture would be a cycle.
    connect(&p->timer, &QTimer::timeout, this, [weak = std::weak_ptr<Pending>(p)] {
        if (const auto p = weak.lock()) {
            p->timedOut = true;
            if (p->reply)
                p->reply->abort();
        }
    });
    m_pending.append(p);
    start(p);
}

void RestTransport::start(const std::shared_ptr<Pending> &p)
{
    if (p->hasContext && !p->context) {
        m_pending.removeOne(p);
        return;
    }
    QNetworkRequest req(p->request.url);
    // Same-origin only: a redirect must never carry the key to another host.
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::SameOriginRedirectPolicy);
    req.setRawHeader("Accept", "application/json");
    req.setRawHeader("User-Agent", "sessionscope/" SESSIONSCOPE_VERSION);
    if (m_bearer) {
        const QString bearer = m_bearer();
        if (!bearer.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + bearer.toUtf8());
    }
    if (!p->request.body.isEmpty() || p->request.verb != "GET")
        req.setHeader(QNetworkRequest::ContentTypeHeader, p->request.contentType);
    for (const auto &[name, value] : p->request.headers)
        req.setRawHeader(name, value);

    qCDebug(lcRest).noquote() << p->request.verb << redactUrl(p->request.url);

    QNetworkReply *reply = p->request.verb == "GET"
        ? networkAccessManager()->get(req)
        : networkAccessManager()->sendCustomRequest(req, p->request.verb, p->request.body);
    p->reply = reply;
    p->timedOut = false;
    connect(reply, &QNetworkReply::finished, this, [this, p] { onFinished(p); });
    p->timer.start(m_timeout);
}

void RestTransport::onFinished(const std::shared_ptr<Pending> &p)
{
    p->timer.stop();
    QNetworkReply *reply = p->reply;
    if (!reply)
        return;
    reply->deleteLater();
    p->reply = nullptr;

    const QVariant statusAttr = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (!statusAttr.isValid() || p->timedOut) {
        finish(p, networkError(reply, p->request, p->timedOut, m_timeout));
        return;
    }
    HttpResponse response = responseOf(reply, reply->readAll());
    qCDebug(lcRest).noquote() << p->request.verb << redactUrl(p->request.url) << "->" << response.status;

    if (response.status == 429) {
        const QDateTime now = QDateTime::currentDateTimeUtc();
        const QDateTime resetAt = rateLimitReset(response).value_or(now.addSecs(1));
        // A little past the reset so the retry does not land in the same window.
        const auto wait = std::chrono::milliseconds(qMax<qint64>(0, now.msecsTo(resetAt)) + 50);
        if (p->rateLimitWaited + wait <= m_rateLimitBudget) {
            p->rateLimitWaited += wait;
            Q_EMIT rateLimited(p->request.url, now.addMSecs(wait.count()));
            QTimer::singleShot(wait, this, [this, p] {
                if (m_pending.contains(p))
                    start(p);
            });
            return;
        }
    }
    if (response.status >= 200 && response.status < 300)
        finish(p, std::move(response));
    else
        finish(p, errorFromResponse(response, p->request));
}

void RestTransport::finish(const std::shared_ptr<Pending> &p, Result<HttpResponse> result)
{
    m_pending.removeOne(p);
    if (!p->done || (p->hasContext && !p->context))
        return;
    auto done = std::move(p->done);
    done(std::move(result));
}

HttpResponse RestTransport::responseOf(QNetworkReply *reply, QByteArray body)
{
    HttpResponse r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.headers = reply->rawHeaderPairs();
    r.body = std::move(body);
    return r;
}

QString RestTransport::serverMessage(const QByteArray &body)
{
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    if (doc.isObject()) {
        const QJsonObject o = doc.object();
        const QJsonValue error = o.value(QStringLiteral("error"));
        if (error.isString() && !error.toString().isEmpty())
            return error.toString();
        if (error.isObject()) {
            const QString m = error.toObject().value(QStringLiteral("message")).toString();
            if (!m.isEmpty())
                return m;
        }
        const QString m = o.value(QStringLiteral("message")).toString();
        if (!m.isEmpty())
            return m;
    }
    // Plain-text bodies (proxies, gateways) are shown as they are, trimmed.
    QString text = QString::fromUtf8(body).simplified();
    if (text.startsWith(QLatin1Char('<')))
        return {};
    if (text.size() > 300)
        text = text.left(300) + QStringLiteral("…");
    return redactSecrets(text);
}

Error RestTransport::errorFromResponse(const HttpResponse &response, const HttpRequest &request)
{
    Error e;
    e.httpStatus = response.status;
    QString message = serverMessage(response.body);
    if (message.isEmpty())
        message = QStringLiteral("HTTP %1").arg(response.status);
    e.message = message;
    if (response.status == 429) {
        const auto reset = rateLimitReset(response);
        e.message = QStringLiteral("Rate limited (%1)%2")
                        .arg(message,
                             reset ? QStringLiteral("; the limit resets at %1").arg(reset->toString(Qt::ISODateWithMs))
                                   : QString());
        // The server refused before doing anything.
        e.retrySafe = true;
    } else if (response.status >= 500 || response.status == 408) {
        e.retrySafe = request.idempotent;
    }
    return e;
}

std::optional<QDateTime> RestTransport::rateLimitReset(const HttpResponse &response)
{
    if (const auto reset = response.header("x-ratelimit-reset")) {
        bool ok = false;
        const qint64 value = reset->trimmed().toLongLong(&ok);
        if (ok && value > 0) {
            // The protocol says unix ms; some gateways send unix seconds.
            const qint64 ms = value < 100000000000LL ? value * 1000 : value;
            return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
        }
    }
    if (const auto after = response.header("retry-after")) {
        bool ok = false;
        const qint64 seconds = after->trimmed().toLongLong(&ok);
        if (ok && seconds >= 0)
            return QDateTime::currentDateTimeUtc().addSecs(seconds);
    }
    return std::nullopt;
}

Error RestTransport::networkError(QNetworkReply *reply, const HttpRequest &request, bool timedOut,
                                  std::chrono::milliseconds timeout)
{
    Error e;
    const QString where = QStringLiteral("%1 %2").arg(QString::fromLatin1(request.verb), redactUrl(request.url));
    if (timedOut) {
        e.message = QStringLiteral("%1: no answer within %2 ms").arg(where).arg(timeout.count());
        e.retrySafe = request.idempotent;
        return e;
    }
    e.message = QStringLiteral("%1: %2").arg(where, redactSecrets(reply->errorString()));
    switch (reply->error()) {
    case QNetworkReply::ConnectionRefusedError:
    case QNetworkReply::HostNotFoundError:
    case QNetworkReply::TemporaryNetworkFailureError:
    case QNetworkReply::NetworkSessionFailedError:
        e.retrySafe = true;
        break;
    case QNetworkReply::SslHandshakeFailedError:
    case QNetworkReply::OperationCanceledError:
        e.retrySafe = false;
        break;
    default:
        e.retrySafe = request.idempotent;
        break;
    }
    return e;
}

} // namespace sessionscope
