#include "server/idgenerator.h"

#include <QDateTime>
#include <QMutex>
#include <QRandomGenerator>

namespace sessionscope {

namespace {

constexpr char kBase36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kNanoid[] = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";

void appendBase36(QString &out, quint64 value, int width)
{
    char buf[16];
    for (int i = width - 1; i >= 0; --i) {
        buf[i] = kBase36[value % 36];
        value /= 36;
    }
    out.append(QLatin1String(buf, width));
}

struct CuidState
{
    QMutex mutex;
    qint64 lastMs = 0;
    quint32 counter = 0;
    quint32 fingerprint = QRandomGenerator::system()->bounded(36u * 36 * 36 * 36);
};

CuidState &state()
{
    static CuidState s;
    return s;
}

} // namespace

QString IdGenerator::cuid()
{
    auto &s = state();
    qint64 ms;
    quint32 counter;
    {
        QMutexLocker lock(&s.mutex);
        // Never go backwards in time, so ids keep sorting in creation order
        // even if the wall clock is stepped back.
        ms = qMax(QDateTime::currentMSecsSinceEpoch(), s.lastMs);
        if (ms != s.lastMs) {
            s.lastMs = ms;
            s.counter = 0;
        }
        counter = s.counter++;
        if (s.counter >= 36u * 36 * 36 * 36) {
            // A full counter in one ms: borrow the next ms rather than wrap.
            ++s.lastMs;
            s.counter = 0;
        }
    }
    QString id;
    id.reserve(25);
    id.append(QLatin1Char('c'));
    appendBase36(id, quint64(ms), 8);
    appendBase36(id, counter, 4);
    appendBase36(id, s.fingerprint, 4);
    auto *rng = QRandomGenerator::system();
    appendBase36(id, rng->bounded(quint64(36ull * 36 * 36 * 36)), 4);
    appendBase36(id, rng->bounded(quint64(36ull * 36 * 36 * 36)), 4);
    return id;
}

QString IdGenerator::friendly(QStringView prefix)
{
    return prefix.toString() + QLatin1Char('_') + cuid();
}

QByteArray IdGenerator::nanoid(int length)
{
    QByteArray out(length, Qt::Uninitialized);
    auto *rng = QRandomGenerator::system();
    for (int i = 0; i < length; ++i)
        out[i] = kNanoid[rng->bounded(64u)];
    return out;
}

QString IdGenerator::secretKey()
{
    QString key = QStringLiteral("tr_dev_");
    auto *rng = QRandomGenerator::system();
    for (int i = 0; i < 40; ++i)
        key.append(QLatin1Char(kBase62[rng->bounded(62u)]));
    return key;
}

qint64 IdGenerator::cuidTimestamp(QStringView cuid)
{
    if (cuid.size() != 25 || cuid.front() != QLatin1Char('c'))
        return -1;
    bool ok = false;
    const qint64 ms = cuid.mid(1, 8).toLongLong(&ok, 36);
    return ok ? ms : -1;
}

} // namespace sessionscope
