#pragma once

#include "net/resttransport.h"
#include "net/result.h"

#include <QEventLoop>
#include <QTimer>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace sessionscope {

// Runs the event loop until `done()` holds or the timeout passes. Unlike
// QTest::qWaitFor it never sleeps between rounds, so a test that streams
// thousands of records or reconnects a thousand times is not slowed down.
inline bool waitUntil(const std::function<bool()> &done, std::chrono::milliseconds timeout)
{
    if (done())
        return true;
    QEventLoop loop;
    QTimer poll;
    poll.setInterval(1);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
    poll.start();
    deadline.start(timeout);
    loop.exec();
    return done();
}

// Runs an asynchronous call and spins the event loop until its callback
// answers, for tests. A call that never answers becomes an Error (the
// callback may still come later: it writes into shared state, not the stack).
template <typename T, typename Call>
Result<T> awaitResult(Call &&call, std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    auto out = std::make_shared<std::optional<Result<T>>>();
    call(ResultCallback<T>([out](Result<T> r) { out->emplace(std::move(r)); }));
    if (!waitUntil([&out] { return out->has_value(); }, timeout))
        return Error::make(QStringLiteral("no answer within %1 ms").arg(timeout.count()));
    return std::move(**out);
}

// For QVERIFY2 messages, which are evaluated even when the check passes.
template <typename T>
QByteArray describe(const Result<T> &result)
{
    return result.ok() ? QByteArray("ok") : result.error().message.toUtf8();
}

} // namespace sessionscope
