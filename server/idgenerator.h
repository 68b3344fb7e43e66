#pragma once

#include <QByteArray>
#include <QString>

namespace sessionscope {

// Ids in the shapes Trigger.dev uses: a 25-character cuid ("c" + time +
// counter + fingerprint + random, lowercase base36) behind a type prefix
// (`session_`, `run_`). Ids made by one process sort in creation order, which
// the sessions list uses as its cursor order.
class IdGenerator
{
public:
    static QString cuid();
    // prefix + "_" + cuid(), e.g. friendly("run") -> "run_c...".
    static QString friendly(QStringView prefix);
    // The part id the real API makes when X-Part-Id is absent (nanoid(7)).
    static QByteArray nanoid(int length = 7);
    // A fresh embedded-server secret key: "tr_dev_" + 40 random base62 characters.
    static QString secretKey();
    // The time a cuid was made, in ms since the epoch (-1 if it is not one).
    static qint64 cuidTimestamp(QStringView cuid);
};

} // namespace sessionscope
