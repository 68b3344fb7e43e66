#pragma once

// Helpers shared by the agent suites: building `.in` chunks and reading
// `.out` records back as chunk types, controls and text.
#include "net/streamrecord.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace sessionscope::agenttest {

inline QJsonObject textMessage(const QString &id, const QString &text)
{
    return QJsonObject{{"id", id}, {"role", "user"},
                       {"parts", QJsonArray{QJsonObject{{"type", "text"}, {"text", text}}}}};
}

// A `.in` ChatInputChunk for submit-message.
inline QJsonObject submit(const QString &text, const QJsonObject &clientData, const QString &id = {})
{
    static int n = 0;
    return QJsonObject{{"kind", "message"},
                       {"payload", QJsonObject{{"chatId", "chat"},
                                               {"trigger", "submit-message"},
                                               {"message", textMessage(id.isEmpty() ? QStringLiteral("u%1").arg(++n) : id, text)},
                                               {"metadata", clientData}}}};
}

inline QJsonObject stopChunk()
{
    return QJsonObject{{"kind", "stop"}};
}

// clientData with the default schema's userId and a protocolVersion marker.
inline QJsonObject clientData(const QString &protocol = QStringLiteral("v1"))
{
    return QJsonObject{{"userId", "u-1"}, {"protocolVersion", protocol}};
}

inline QJsonObject dataOf(const StreamRecord &r)
{
    return QJsonDocument::fromJson(r.body).object().value("data").toObject();
}

// "start", "text-delta", ..., "ctl:turn-complete", "cmd:trim".
inline QStringList kinds(const QList<StreamRecord> &records, qint64 fromSeq = 0)
{
    QStringList out;
    for (const StreamRecord &r : records) {
        if (r.seqNum < fromSeq)
            continue;
        if (r.kind == RecordKind::Data)
            out << dataOf(r).value("type").toString();
        else if (r.kind == RecordKind::Control)
            out << QStringLiteral("ctl:") + QString::fromLatin1(r.subtype());
        else
            out << QStringLiteral("cmd:") + QString::fromLatin1(r.subtype());
    }
    return out;
}

// The kinds with runs of equal deltas folded to one entry.
inline QStringList folded(const QStringList &k)
{
    QStringList out;
    for (const QString &s : k) {
        if (s.endsWith("-delta") && !out.isEmpty() && out.last() == s)
            continue;
        out << s;
    }
    return out;
}

inline QList<StreamRecord> controls(const QList<StreamRecord> &records, const QByteArray &subtype)
{
    QList<StreamRecord> out;
    for (const StreamRecord &r : records) {
        if (r.kind == RecordKind::Control && r.subtype() == subtype)
            out << r;
    }
    return out;
}

inline QString textOfTurn(const QList<StreamRecord> &records, qint64 fromSeq = 0)
{
    QString text;
    for (const StreamRecord &r : records) {
        if (r.seqNum >= fromSeq && r.kind == RecordKind::Data && dataOf(r).value("type") == "text-delta")
            text += dataOf(r).value("delta").toString();
    }
    return text;
}

// The data part of the given type in the records (empty when none).
inline QJsonObject partData(const QList<StreamRecord> &records, const QString &type)
{
    for (const StreamRecord &r : records) {
        if (r.kind == RecordKind::Data && dataOf(r).value("type") == type)
            return dataOf(r).value("data").toObject();
    }
    return {};
}

// One plain assistant turn, deltas folded.
inline const QStringList &plainTurn()
{
    static const QStringList turn{"start", "start-step", "text-start", "text-delta", "text-end", "finish-step",
                                  "finish", "ctl:turn-complete"};
    return turn;
}

} // namespace sessionscope::agenttest
