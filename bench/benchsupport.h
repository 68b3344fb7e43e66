#pragma once

// Small pieces the bench programs share: the records they write and read, the
// one JSON line each prints, and /proc readings.

#include <QByteArray>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QStringList>

#include <charconv>
#include <cstdio>
#include <iterator>
#include <sys/resource.h>

namespace sessionscope::bench {

// Token-sized deltas like a model streams them (the same mix as the memory test).
inline constexpr const char *Tokens[] = {"Hello", ",", " world", " the", " quick", " brown", " fox",
                                         " jumps", " over", " lazy", " dog", ".", " It", "'s",
                                         " a", " test", " of", " memory", " use", " café"};

// The body of text-delta record `seq` as an agent writes it: {"data": chunk, "id": partId}.
// Part ids are unique per stream: the SDK drops a record whose id it has seen.
inline QByteArray textDeltaBody(qint64 seq)
{
    QByteArray body = "{\"data\":{\"type\":\"text-delta\",\"id\":\"t";
    body += QByteArray::number(seq / 500);
    body += "\",\"delta\":\"";
    body += Tokens[seq % qint64(std::size(Tokens))];
    body += "\"},\"id\":\"p";
    body += QByteArray::number(seq);
    body += "\"}";
    return body;
}

inline void appendNumber(QByteArray &out, qint64 value)
{
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out.append(digits, end - digits);
}

// One record framed as the server sends it live: a batch event of its own.
// Appends in place: the UI bench frames 50,000 of these a second on a thread
// that shares the cores with what it measures.
inline void appendBatchEvent(QByteArray &sse, qint64 seq, qint64 timestamp, QByteArrayView body,
                             const QList<QPair<QByteArray, QByteArray>> &headers = {})
{
    sse.reserve(sse.size() + 2 * body.size() + 192);
    sse.append("id: ");
    appendNumber(sse, seq);
    sse.append(',');
    appendNumber(sse, seq + 1);
    sse.append(',');
    appendNumber(sse, seq * 80);
    sse.append("\nevent: batch\ndata: {\"records\":[{\"seq_num\":");
    appendNumber(sse, seq);
    sse.append(",\"timestamp\":");
    appendNumber(sse, timestamp);
    sse.append(",\"body\":\"");
    for (char c : body) {
        if (c == '"' || c == '\\')
            sse.append('\\');
        sse.append(c);
    }
    sse.append("\",\"headers\":[");
    for (qsizetype i = 0; i < headers.size(); ++i) {
        sse.append(i ? ",[\"" : "[\"");
        sse.append(headers[i].first);
        sse.append("\",\"");
        sse.append(headers[i].second);
        sse.append("\"]");
    }
    sse.append("]}],\"tail\":{\"seq_num\":");
    appendNumber(sse, seq + 1);
    sse.append(",\"timestamp\":");
    appendNumber(sse, timestamp);
    sse.append("}}\n\n");
}

// Arguments "A B COUNT" (COUNT last, a positive integer) with the secret key
// in $SESSIONSCOPE_SECRET_KEY, never on the command line. Prints `usage` and
// returns false when they do not fit.
struct KeyedArguments
{
    QStringList args; // args[0] is the program
    QString key;
    qint64 count = 0;
};

inline bool keyedArguments(const QStringList &args, const char *usage, KeyedArguments &out)
{
    bool ok = false;
    out.args = args;
    out.count = args.size() == 4 ? args.at(3).toLongLong(&ok) : 0;
    out.key = qEnvironmentVariable("SESSIONSCOPE_SECRET_KEY");
    if (ok && out.count > 0 && !out.key.isEmpty())
        return true;
    std::fprintf(stderr, "usage: SESSIONSCOPE_SECRET_KEY=KEY %s\n", usage);
    return false;
}

inline void printFigures(const QJsonObject &figures)
{
    const QByteArray line = QJsonDocument(figures).toJson(QJsonDocument::Compact);
    std::fprintf(stdout, "%s\n", line.constData());
    std::fflush(stdout);
}

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"); -1 when unreadable.
inline qint64 procStatusBytes(const QByteArray &field)
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray prefix = field + ':';
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed().split(' ').first().toLongLong() * 1024;
    }
    return -1;
}

// The calling thread's time on a CPU and time runnable but waiting for one,
// in seconds (/proc/thread-self/schedstat): on a shared machine the second
// tells how much of a stall was the scheduler's.
struct ThreadCpu
{
    double running = 0;
    double waiting = 0;
};

inline ThreadCpu threadCpu()
{
    QFile file(QStringLiteral("/proc/thread-self/schedstat"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QList<QByteArray> fields = file.readAll().simplified().split(' ');
    if (fields.size() < 2)
        return {};
    return {fields[0].toDouble() / 1e9, fields[1].toDouble() / 1e9};
}

// Thousands of sockets need more descriptors than the usual soft limit.
inline void raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace sessionscope::bench
