#pragma once

#include "server/serverconfig.h"

namespace sessionscope {

class ChaosInjector;
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
    // Chaos mode's decisions; null when it is off.
    ChaosInjector *chaos = nullptr;
};

} // namespace sessionscope
