#pragma once

#include "server/httprouter.h"

namespace sessionscope {

class TokenService;

// POST /api/v1/auth/jwt/claims: the claims the SDK's auth.createPublicToken()
// fetches before it signs a public token itself with the secret key
// ({sub: environment id, pub: true}). Secret key only, as the webapp's
// authenticateApiRequest allows.
class AuthRoutes
{
public:
    explicit AuthRoutes(const TokenService &tokens);

    void registerRoutes(HttpRouter &router);

private:
    const TokenService &m_tokens;
};

} // namespace sessionscope
