#pragma once

#include "server/httprouter.h"
#include "server/routecontext.h"
#include "server/sessionservice.h"
#include "server/sessionstore.h"

namespace sessionscope {

class BodyValidator;

// /api/v1/sessions: create, list, retrieve, update, close, end-and-continue,
// and our extension /api/v1/sessions/{id}/runs (the SessionRun audit).
class SessionsRoutes
{
public:
    explicit SessionsRoutes(RouteContext context);

    void registerRoutes(HttpRouter &router);

    // SessionItem on the wire. The list omits triggerConfig, as the webapp's does.
    static Json sessionJson(const SessionRow &session, bool withTriggerConfig = true);
    // parse-duration's grammar ("7d", "1h30m", "90s"); nullopt when unparsable.
    static std::optional<qint64> parseDurationMs(QStringView text);

    // The request bodies of create, PATCH and close, read field by field: the
    // validator collects every problem (the 400's wording) and a field it
    // refused is left unset. Only meaningful when v.ok() afterwards.
    struct UpdateBody
    {
        SessionPatch patch;
        // unset: leave it; nullopt inside: clear it.
        std::optional<std::optional<QString>> externalId;
    };
    static CreateSessionParams readCreateBody(BodyValidator &v, const Json &root);
    static UpdateBody readUpdateBody(BodyValidator &v, const Json &root);
    static std::optional<QString> readCloseBody(BodyValidator &v, const Json &root);

private:
    void create(const HttpExchange::Ptr &exchange, const AuthContext &auth);
    void list(const HttpExchange::Ptr &exchange, const AuthContext &auth);
    void retrieve(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key);
    void update(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key);
    void close(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key);
    void endAndContinue(const HttpExchange::Ptr &exchange, const AuthContext &auth,
                        const QString &key);
    void runs(const HttpExchange::Ptr &exchange, const AuthContext &auth, const QString &key);

    // Loads the session or answers (404 / 500). The read check covers both
    // addressing forms of the session.
    std::optional<SessionRow> loadForRead(const HttpExchange::Ptr &exchange,
                                          const AuthContext &auth, const QString &key);

    // The PATCH/close preamble: the body's verdict (400), the admin scope on
    // the URL key (403), then the session (404).
    std::optional<SessionRow> validatedForAdmin(const HttpExchange::Ptr &exchange,
                                                const AuthContext &auth, const QString &key,
                                                const BodyValidator &validator);

    RouteContext m_ctx;
};

} // namespace sessionscope
