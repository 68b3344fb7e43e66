#pragma once

#include "net/jsonreader.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QVarLengthArray>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

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

// A data record's chunk, decoded without a JSON tree: the whole body is
// validated (the same checks and errors as decodeBody()), the chunk object's
// members are indexed, and a member becomes a QString or a JSON value only
// when asked for. It shares the record's body rather than copying it, and on
// `.out` allocates only the part id (and more only for chunks of over eight
// members or with escaped names), so it is the form for streaming paths;
// toJson() gives the tree decodeBody() holds.
class DecodedChunk : public BodyInfo
{
public:
    using Type = JsonReader::Type;

    // The chunk object's JSON text.
    QByteArrayView jsonText() const { return QByteArrayView(m_text).sliced(m_at, m_size); }
    qsizetype memberCount() const { return m_members.size(); }

    // A member given twice counts as its last occurrence, as in a JSON tree.
    bool contains(std::string_view key) const { return find(key) != nullptr; }
    Type memberType(std::string_view key) const; // Invalid when there is none
    std::optional<QString> string(std::string_view key) const; // when it is a string
    nlohmann::json value(std::string_view key) const;          // null when there is none
    nlohmann::json toJson() const;

private:
    friend class ChunkDecoder;

    struct Member
    {
        qsizetype keyAt = 0; // in m_text, or in m_keys when keyDecoded
        qsizetype keyLength = 0;
        qsizetype valueAt = 0; // in m_text
        qsizetype valueLength = 0;
        Type type = Type::Invalid;
        bool keyDecoded = false; // the name had escapes
    };
    const Member *find(std::string_view key) const;
    std::string_view keyOf(const Member &member) const;
    QByteArrayView valueOf(const Member &member) const { return QByteArrayView(m_text).sliced(member.valueAt, member.valueLength); }

    QByteArray m_text; // holds the chunk: the record body, or the `.in` data string decoded
    qsizetype m_at = 0;
    qsizetype m_size = 0;
    QVarLengthArray<Member, 8> m_members;
    std::string m_keys; // member names that had escapes, decoded
};

// Decodes a data record's body: one pass over the body (plus one over the
// inner string on `.in`). Errors name the record's seq.
Result<DecodedChunk> decodeChunk(const StreamRecord &record);
Result<DecodedChunk> decodeChunk(QByteArrayView body, qint64 seq);

// The same, with the chunk built into a JSON tree.
Result<DecodedBody> decodeBody(const StreamRecord &record);
Result<DecodedBody> decodeBody(QByteArrayView body, qint64 seq);

// The same checks and errors without the chunk: for listing records, where
// only the type and part id are shown.
Result<BodyInfo> decodeBodyInfo(const StreamRecord &record);
Result<BodyInfo> decodeBodyInfo(QByteArrayView body, qint64 seq);

} // namespace sessionscope
