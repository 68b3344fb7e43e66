#pragma once

// Shared by the net test suites: where the fixtures are and how to read them.

#include "net/result.h"
#include "net/sseparser.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QStringList>
#include <QTest>

namespace sessionscope::testing {

// ../shared: from the environment the test helper sets, else beside the source tree.
inline QString sharedDir()
{
    const QByteArray fromEnv = qgetenv("SESSIONSCOPE_SHARED_DIR");
    if (!fromEnv.isEmpty())
        return QString::fromLocal8Bit(fromEnv);
    return QStringLiteral(SESSIONSCOPE_SOURCE_DIR "/../shared");
}

inline QString fixturePath(const QString &name)
{
    return sharedDir() + QStringLiteral("/fixtures/") + name;
}

inline QByteArray readFixture(const QString &name)
{
    QFile file(fixturePath(name));
    if (!file.open(QIODevice::ReadOnly))
        qFatal("cannot read fixture %s: %s", qPrintable(file.fileName()), qPrintable(file.errorString()));
    return file.readAll();
}

// Every SSE capture among the fixtures.
inline QStringList sseFixtures()
{
    return QDir(sharedDir() + QStringLiteral("/fixtures")).entryList({QStringLiteral("*.sse")}, QDir::Files, QDir::Name);
}

// All events of `bytes` fed in one piece to a fresh parser.
inline QList<SseEvent> parseWhole(QByteArrayView bytes)
{
    SseParser parser;
    QList<SseEvent> events;
    parser.feed(bytes, events);
    return events;
}

// The error of a Result, or nothing when it holds a value: QVERIFY2 evaluates
// its message even when the check passes.
template <typename T>
QString errorText(const Result<T> &result)
{
    return result.ok() ? QString() : result.error().message;
}

} // namespace sessionscope::testing
