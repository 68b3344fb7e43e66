#include "server/authroutes.h"

#include "server/tokenservice.h"

namespace sessionscope {

AuthRoutes::AuthRoutes(const TokenService &tokens) : m_tokens(tokens) {}

void AuthRoutes::registerRoutes(HttpRouter &router)
{
    router.addRoute(
        {QStringLiteral("api"), QStringLiteral("v1"), QStringLiteral("auth"), QStringLiteral("jwt"),
         QStringLiteral("claims")},
        {HttpRouter::Method::Post},
        // Copied, so the registrar may be a temporary.
        [subject = m_tokens.environmentId().toStdString()](
            const HttpExchange::Ptr &exchange, const AuthContext &auth, const QStringList &) {
            // A public token cannot vouch for the environment it would sign for.
            if (!auth.isSecretKey()) {
                exchange->respondError(401, QStringLiteral("Invalid or Missing API key"));
                return;
            }
            Json claims = Json::object();
            claims["sub"] = subject;
            claims["pub"] = true;
            exchange->respondJson(200, claims);
        });
}

} // namespace sessionscope
