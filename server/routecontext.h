#pragma once

#include "server/serverconfig.h"

namespace sessionscope {

class SessionService;
class StreamStore;
class TokenService;

// What the route handlers work with; owned by SessionServer.
struct RouteContext
{
    const ServerConfig &config;
    SessionService &sessions;
    StreamStore &streams;
    TokenService &tokens;
};

} // namespace sessionscope
