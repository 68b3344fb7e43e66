#pragma once

// Shared by the models test suites: records and SSE bytes built the way the
// server frames them (the framing of ../shared/fixtures/two-turns.sse).

#include "models/recordbatchdecoder.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <nlohmann/json.hpp>

namespace sessionscope::testing {

inline StreamRecord dataRecord(qint64 seq, const nlohmann::json &chunk, const QString &partId = {},
                               qint64 timestamp = 1763700000000)
{
    nlohmann::json body = {{"data", chunk}};
    body["id"] = (partId.isEmpty() ? QStringLiteral("p%1").arg(seq) : partId).toStdString();
    StreamRecord r;
    r.seqNum = seq;
    r.timestamp = timestamp + seq;
    r.kind = RecordKind::Data;
    r.body = QByteArray::fromStdString(body.dump());
    return r;
}

// A `.in` record: the server stores the appended ChatInputChunk text as a string.
inline StreamRecord inRecord(qint64 seq, const nlohmann::json &inputChunk, qint64 timestamp = 1763700000000)
{
    return dataRecord(seq, nlohmann::json(inputChunk.dump()), {}, timestamp);
}

inline StreamRecord textDelta(qint64 seq, const QString &delta, const QString &textId = QStringLiteral("t1"))
{
    return dataRecord(seq, {{"type", "text-delta"}, {"id", textId.toStdString()}, {"delta", delta.toStdString()}});
}

inline StreamRecord controlRecord(qint64 seq, const QByteArray &subtype, const QList<StreamHeader> &extra = {},
                                  qint64 timestamp = 1763700000000)
{
    StreamRecord r;
    r.seqNum = seq;
    r.timestamp = timestamp + seq;
    r.kind = RecordKind::Control;
    r.headers = {{controlheader::TriggerControl, subtype}};
    r.headers += extra;
    return r;
}

inline StreamRecord commandRecord(qint64 seq, const QByteArray &op, const QByteArray &body)
{
    StreamRecord r;
    r.seqNum = seq;
    r.timestamp = 1763700000000 + seq;
    r.kind = RecordKind::Command;
    r.headers = {{QByteArray(), op}};
    r.body = body;
    return r;
}

// One `event: batch` carrying one record, exactly as two-turns.sse frames it.
inline QByteArray sseBatchEvent(const StreamRecord &r, qint64 tailSeq)
{
    nlohmann::json headers = nlohmann::json::array();
    for (const StreamHeader &h : r.headers)
        headers.push_back({h.first.toStdString(), h.second.toStdString()});
    const nlohmann::json data = {
        {"records",
         {{{"seq_num", r.seqNum}, {"timestamp", r.timestamp}, {"body", r.body.toStdString()}, {"headers", headers}}}},
        {"tail", {{"seq_num", tailSeq}, {"timestamp", r.timestamp}}},
    };
    QByteArray out = "id: " + QByteArray::number(r.seqNum) + ',' + QByteArray::number(r.seqNum + 1) + ','
                     + QByteArray::number(r.seqNum * 100) + "\nevent: batch\ndata: ";
    out += QByteArray::fromStdString(data.dump());
    out += "\n\n";
    return out;
}

// The same framing written by hand for one text-delta record, fast enough to
// generate a million. `delta` goes in as is: ASCII without quotes, or already
// escaped for both JSON levels (a newline is the three bytes \\\\n).
inline void appendTextDeltaEvent(QByteArray &out, qint64 seq, qint64 timestamp, qint64 textId, const char *delta)
{
    const QByteArray s = QByteArray::number(seq);
    const QByteArray ts = QByteArray::number(timestamp);
    out += "id: " + s + ',' + QByteArray::number(seq + 1) + ',' + QByteArray::number(seq * 100) + "\n";
    out += "event: batch\n";
    out += "data: {\"records\":[{\"seq_num\":" + s + ",\"timestamp\":" + ts;
    // The body is a JSON string inside the batch JSON: its quotes are escaped.
    out += ",\"body\":\"{\\\"data\\\":{\\\"type\\\":\\\"text-delta\\\",\\\"id\\\":\\\"t";
    out += QByteArray::number(textId) + "\\\",\\\"delta\\\":\\\"" + delta + "\\\"},\\\"id\\\":\\\"p" + s;
    out += "\\\"}\",\"headers\":[]}],\"tail\":{\"seq_num\":" + QByteArray::number(seq + 1) + ",\"timestamp\":" + ts
           + "}}\n\n";
}

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool SanitizedBuild = true; // ASan + UBSan, Debug: several times slower
#else
inline constexpr bool SanitizedBuild = false;
#endif

inline RecordBatch decodeToBatch(Channel channel, const QList<StreamRecord> &records)
{
    RecordBatchDecoder decoder(RecordBatchDecoder::Options{false, 160});
    decoder.addRecords(channel, records);
    return decoder.takeBatch();
}

} // namespace sessionscope::testing
