#pragma once

#include "net/result.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <nlohmann/json.hpp>

namespace sessionscope {

// What a data record's body `{"data": ..., "id": partId}` (protocol.md) says
// about its chunk.
struct BodyInfo
{
    QByteArray partId;    // body "id"; empty when the writer sent none
    QByteArray chunkType; // data.type on `.out`, data.kind on `.in`
    bool dataWasString = false;

    // The body's shape tells the channel: only `.in` stores data as a string.
    Channel channel() const { return dataWasString ? Channel::In : Channel::Out; }
};

struct DecodedBody : BodyInfo
{
    // The chunk, always as a JSON object: a UIMessageChunk on `.out`, a
    // ChatInputChunk on `.in` (where it arrived as a string and was parsed).
    nlohmann::json data;
};

// Decodes a data record's body: one parse of the body (plus one of the inner
// string for `.in`). Errors name the record's seq.
Result<DecodedBody> decodeBody(const StreamRecord &record);
Result<DecodedBody> decodeBody(QByteArrayView body, qint64 seq);

// The same checks and errors as decodeBody() without building the chunk: for
// listing records, where only the type and part id are shown.
Result<BodyInfo> decodeBodyInfo(const StreamRecord &record);
Result<BodyInfo> decodeBodyInfo(QByteArrayView body, qint64 seq);

} // namespace sessionscope
