#pragma once

#include "net/streamrecord.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <optional>

namespace sessionscope {

// One stream record as the inspector keeps it: 40 bytes of index plus its
// bytes (encoded headers, body, one-line summary) stored back to back
// elsewhere, in a RecordBatch's byte array or a StreamRecordModel's arena.
// The summary is computed off the UI thread when the record is decoded, so
// showing a row never parses anything.
struct CompactRecord
{
    enum Flag : quint8 {
        InChannel = 0x1,   // `.in`; otherwise `.out`
        DecodeError = 0x2, // the body did not decode; the summary holds why
        TokenHeader = 0x4, // a control record carrying a public access token
    };

    qint64 seq = -1;
    qint64 timestamp = 0; // ms since the epoch, as the server stamped it
    quint32 block = 0;    // arena block (unused in a RecordBatch)
    quint32 offset = 0;   // into the block, or into RecordBatch::bytes
    quint32 headersLength = 0;
    quint32 bodyLength = 0;
    quint16 summaryLength = 0;
    quint16 typeIndex = 0; // chunk type, control subtype or command op, interned
    RecordKind kind = RecordKind::Data;
    quint8 flags = 0;

    Channel channel() const { return (flags & InChannel) ? Channel::In : Channel::Out; }
    bool hasError() const { return flags & DecodeError; }
    quint32 storedLength() const { return headersLength + bodyLength + summaryLength; }
};
static_assert(sizeof(CompactRecord) == 40, "the inspector's memory budget counts on 40-byte records");

// The encoded form of a record's headers: per header a 32-bit name length, a
// 32-bit value length (little endian), then the name and value bytes. Data
// records have no headers, so they cost nothing here.
namespace compactheaders {

void append(QByteArray &out, const QList<StreamHeader> &headers);
QList<StreamHeader> decode(QByteArrayView encoded);
std::optional<QByteArray> find(QByteArrayView encoded, QByteArrayView name);
// Names plus values of encoded headers, without the length prefixes.
qsizetype payloadSize(QByteArrayView encoded);
// The header bytes as S2 meters them: names plus values.
qsizetype payloadSize(const QList<StreamHeader> &headers);

} // namespace compactheaders

} // namespace sessionscope
