#pragma once

#include "net/result.h"

#include <QString>

namespace sessionscope {

// The embedded server's secret key in DATA_DIR/secret-key: generated once,
// owner-only (0600), read back on every later start.
class SecretKeyFile
{
public:
    static QString pathIn(const QString &dataDir);
    // The stored key, or a fresh one written there; *created says which.
    static Result<QString> loadOrCreate(const QString &dataDir, bool *created = nullptr);
};

} // namespace sessionscope
