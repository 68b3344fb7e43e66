#include "net/chunkbody.h"

#include "net/literal.h"

#include <cstring>
#include <iterator>

namespace sessionscope {

using json = nlohmann::json;
using Type = JsonReader::Type;

namespace {

Error bodyError(qint64 seq, const QString &reason)
{
    if (seq < 0)
        return Error::make(reason);
    return Error::make(QStringLiteral("seq %1: %2").arg(seq).arg(reason), seq);
}

// Only data records carry a chunk.
std::optional<Error> notData(const StreamRecord &record)
{
    if (record.kind == RecordKind::Data)
        return std::nullopt;
    return bodyError(record.seqNum, QStringLiteral("a %1 record has no chunk body")
                                        .arg(QLatin1String(recordKindName(record.kind))));
}

// What a body turned out to hold; the first problem, in this order, is the
// one reported.
struct BodyFacts
{
    enum class Shape : quint8 { Missing, Object, String, Other };

    QString syntaxError;
    bool isObject = false;
    bool idIsString = true; // true when there is no id
    Shape data = Shape::Missing;
    QString innerSyntaxError; // `.in`: the data string is not JSON
    bool chunkIsObject = false;
    bool typeIsString = false;

    const char *typeKey() const { return data == Shape::String ? "kind" : "type"; }

    std::optional<QString> problem() const
    {
        if (!syntaxError.isEmpty())
            return QStringLiteral("body is not JSON: ") + syntaxError;
        if (!isObject)
            return QStringLiteral("body is not a JSON object");
        if (!idIsString)
            return QStringLiteral("body id is not a string");
        if (data == Shape::Missing)
            return QStringLiteral("body has no data");
        if (data == Shape::Other)
            return QStringLiteral("body data is neither an object nor a string");
        if (!innerSyntaxError.isEmpty())
            return QStringLiteral("the .in data string is not JSON: ") + innerSyntaxError;
        if (!chunkIsObject)
            return QStringLiteral("the chunk is not a JSON object");
        if (!typeIsString)
            return QStringLiteral("the chunk has no string \"%1\"").arg(QLatin1String(typeKey()));
        return std::nullopt;
    }
};

// The chunk types and `.in` kinds of protocol.md, shared instead of allocated
// once per record.
QByteArray chunkTypeName(QByteArrayView name)
{
    static const QByteArray known[] = {
        QByteArrayLiteral("text-delta"),
        QByteArrayLiteral("reasoning-delta"),
        QByteArrayLiteral("tool-input-delta"),
        QByteArrayLiteral("text-start"),
        QByteArrayLiteral("text-end"),
        QByteArrayLiteral("reasoning-start"),
        QByteArrayLiteral("reasoning-end"),
        QByteArrayLiteral("tool-input-start"),
        QByteArrayLiteral("tool-input-available"),
        QByteArrayLiteral("tool-input-error"),
        QByteArrayLiteral("tool-approval-request"),
        QByteArrayLiteral("tool-output-available"),
        QByteArrayLiteral("tool-output-error"),
        QByteArrayLiteral("tool-output-denied"),
        QByteArrayLiteral("start"),
        QByteArrayLiteral("start-step"),
        QByteArrayLiteral("finish-step"),
        QByteArrayLiteral("finish"),
        QByteArrayLiteral("message-metadata"),
        QByteArrayLiteral("error"),
        QByteArrayLiteral("abort"),
        QByteArrayLiteral("source-url"),
        QByteArrayLiteral("source-document"),
        QByteArrayLiteral("file"),
        QByteArrayLiteral("message"),
        QByteArrayLiteral("stop"),
    };
    if (equalsLiteral(name, "text-delta")) // by far the most common
        return known[0];
    for (const QByteArray &type : known) {
        if (type.size() == name.size() && std::memcmp(type.constData(), name.data(), size_t(name.size())) == 0)
            return type;
    }
    return name.toByteArray();
}

// The text of a JSON string literal that has no escapes, without its quotes;
// nullopt when it has escapes and needs decoding.
std::optional<QByteArrayView> plainString(QByteArrayView literal)
{
    const QByteArrayView inside = literal.sliced(1, literal.size() - 2);
    if (!inside.isEmpty() && std::memchr(inside.data(), '\\', size_t(inside.size())))
        return std::nullopt;
    return inside;
}

} // namespace

// Reads a body into a DecodedChunk. Every value is validated as it is passed,
// so a chunk that decodes cleanly here builds a tree without errors later.
class ChunkDecoder
{
public:
    static Result<DecodedChunk> decode(const QByteArray &text, qint64 seq)
    {
        // Built in place and returned as is: a chunk is not small enough to
        // move around for free.
        Result<DecodedChunk> result{DecodedChunk()};
        DecodedChunk &out = result.value();
        if (text.isEmpty()) {
            result = bodyError(seq, QStringLiteral("empty body"));
        } else if (!readCompact(text, out)) {
            out = DecodedChunk();
            if (auto error = read(text, seq, out))
                result = *error;
        }
        return result;
    }

private:
    // The layout every writer we know uses, `{"data":{...},"id":"..."}` with
    // no whitespace around it, read with literal matches; false for anything
    // else (another order, an `.in` body, any problem), and read() takes over.
    // It accepts only bodies read() decodes cleanly, with the same result.
    static bool readCompact(const QByteArray &text, DecodedChunk &out)
    {
        JsonReader reader(text);
        if (!reader.consumeLiteral("{\"data\":{", 2))
            return false;
        out.m_text = text;
        out.m_at = reader.offset() - 1;
        const char *const base = text.constData();
        std::string_view key;
        qsizetype type = -1; // the last member named "type"
        do {
            if (!reader.consumeKey(key))
                return false;
            DecodedChunk::Member member;
            member.keyAt = key.data() - base;
            member.keyLength = qsizetype(key.size());
            member.type = reader.peek();
            QByteArrayView value;
            if (!reader.skipValue(value))
                return false;
            member.valueAt = value.data() - base;
            member.valueLength = value.size();
            if (equalsLiteral(key, "type"))
                type = out.m_members.size();
            out.m_members.append(member);
        } while (reader.consumeLiteral(","));
        out.m_size = reader.offset() + 1 - out.m_at;
        if (!reader.consumeLiteral("},\"id\":", -1) || reader.peek() != Type::String ||
            !reader.readString(out.partId) || !reader.consumeLiteral("}", -1) || !reader.expectEnd()) {
            return false;
        }
        return type >= 0 && setChunkType(out, &out.m_members[type]);
    }

    // Any body: every rule of protocol.md, and the problem that comes first.
    static std::optional<Error> read(const QByteArray &text, qint64 seq, DecodedChunk &out)
    {
        BodyFacts facts;
        JsonReader reader(text);
        const Type top = reader.peek();
        facts.isObject = top == Type::Object;
        if (!facts.isObject) {
            if (top != Type::Invalid)
                reader.skipValue();
        } else {
            reader.enterObject();
            std::string_view key;
            while (reader.nextKey(key)) {
                // Repeated members count as their last occurrence, as in a JSON tree.
                if (equalsLiteral(key, "id")) {
                    facts.idIsString = reader.peek() == Type::String;
                    out.partId.clear();
                    if (!facts.idIsString)
                        reader.skipValue();
                    else
                        reader.readString(out.partId);
                    continue;
                }
                if (!equalsLiteral(key, "data")) {
                    reader.skipValue();
                    continue;
                }
                const Type data = reader.peek();
                facts.innerSyntaxError.clear();
                facts.chunkIsObject = false;
                facts.typeIsString = false;
                if (data == Type::Object) {
                    facts.data = BodyFacts::Shape::Object;
                    index(reader, text, "type", facts, out);
                } else if (data == Type::String) {
                    // `.in`: the server stored the appended ChatInputChunk text as is.
                    facts.data = BodyFacts::Shape::String;
                    QByteArray inner;
                    if (!reader.readString(inner))
                        continue;
                    JsonReader innerReader(inner);
                    index(innerReader, inner, "kind", facts, out);
                    if (!innerReader.expectEnd())
                        facts.innerSyntaxError = innerReader.errorMessage();
                } else if (data != Type::Invalid) {
                    facts.data = BodyFacts::Shape::Other;
                    reader.skipValue();
                }
            }
        }
        if (!reader.expectEnd())
            facts.syntaxError = reader.errorMessage();
        if (const auto problem = facts.problem())
            return bodyError(seq, *problem);
        out.dataWasString = facts.data == BodyFacts::Shape::String;
        return std::nullopt;
    }

    // chunkType from the member `type` (the last one named "type" or "kind");
    // false when there is none or it is not a string.
    static bool setChunkType(DecodedChunk &out, const DecodedChunk::Member *type)
    {
        if (!type || type->type != Type::String)
            return false;
        const QByteArrayView literal = out.valueOf(*type);
        if (const auto plain = plainString(literal)) {
            out.chunkType = chunkTypeName(*plain);
        } else {
            QByteArray decoded;
            JsonReader(literal).readString(decoded);
            out.chunkType = chunkTypeName(decoded);
        }
        return true;
    }

    // Indexes the chunk object at the reader's position, which reads `text`.
    static void index(JsonReader &reader, const QByteArray &text, std::string_view typeKey, BodyFacts &facts,
                      DecodedChunk &out)
    {
        out.m_members.clear();
        out.m_keys.clear();
        out.chunkType.clear();
        const Type shape = reader.peek();
        if (shape != Type::Object) {
            if (shape != Type::Invalid)
                reader.skipValue();
            return;
        }
        facts.chunkIsObject = true;
        out.m_text = text;
        out.m_at = reader.offset();
        reader.enterObject();
        const char *const base = text.constData();
        std::string_view key;
        while (reader.nextKey(key)) {
            DecodedChunk::Member member;
            member.keyDecoded = reader.keyDecoded();
            if (member.keyDecoded) {
                member.keyAt = qsizetype(out.m_keys.size());
                out.m_keys.append(key);
            } else {
                member.keyAt = key.data() - base;
            }
            member.keyLength = qsizetype(key.size());
            member.type = reader.peek();
            QByteArrayView value;
            if (!reader.skipValue(value))
                return;
            member.valueAt = value.data() - base;
            member.valueLength = value.size();
            out.m_members.append(member);
        }
        out.m_size = reader.offset() - out.m_at;
        facts.typeIsString = setChunkType(out, out.find(typeKey));
    }
};

std::string_view DecodedChunk::keyOf(const Member &member) const
{
    const char *base = member.keyDecoded ? m_keys.data() : m_text.constData();
    return std::string_view(base + member.keyAt, size_t(member.keyLength));
}

const DecodedChunk::Member *DecodedChunk::find(std::string_view key) const
{
    for (auto it = m_members.crbegin(); it != m_members.crend(); ++it) {
        if (it->keyLength == qsizetype(key.size()) && keyOf(*it) == key)
            return &*it;
    }
    return nullptr;
}

DecodedChunk::Type DecodedChunk::memberType(std::string_view key) const
{
    const Member *member = find(key);
    return member ? member->type : Type::Invalid;
}

std::optional<QString> DecodedChunk::string(std::string_view key) const
{
    const Member *member = find(key);
    if (!member || member->type != Type::String)
        return std::nullopt;
    const QByteArrayView literal = valueOf(*member);
    if (const auto plain = plainString(literal))
        return QString::fromUtf8(*plain);
    std::string decoded;
    JsonReader(literal).readString(decoded);
    return QString::fromUtf8(decoded.data(), qsizetype(decoded.size()));
}

json DecodedChunk::value(std::string_view key) const
{
    json out;
    if (const Member *member = find(key))
        JsonReader(valueOf(*member)).readValue(out);
    return out;
}

json DecodedChunk::toJson() const
{
    json out;
    JsonReader(jsonText()).readValue(out);
    return out;
}

Result<DecodedChunk> decodeChunk(const StreamRecord &record)
{
    if (auto error = notData(record))
        return *error;
    return ChunkDecoder::decode(record.body, record.seqNum);
}

Result<DecodedChunk> decodeChunk(QByteArrayView body, qint64 seq)
{
    return ChunkDecoder::decode(body.toByteArray(), seq);
}

namespace {

Result<DecodedBody> withTree(Result<DecodedChunk> chunk)
{
    if (!chunk)
        return chunk.error();
    DecodedBody out;
    static_cast<BodyInfo &>(out) = *chunk;
    out.data = chunk->toJson();
    return out;
}

Result<BodyInfo> infoOnly(Result<DecodedChunk> chunk)
{
    if (!chunk)
        return chunk.error();
    return BodyInfo(*chunk);
}

} // namespace

Result<DecodedBody> decodeBody(const StreamRecord &record)
{
    return withTree(decodeChunk(record));
}

Result<DecodedBody> decodeBody(QByteArrayView body, qint64 seq)
{
    return withTree(decodeChunk(body, seq));
}

Result<BodyInfo> decodeBodyInfo(const StreamRecord &record)
{
    return infoOnly(decodeChunk(record));
}

Result<BodyInfo> decodeBodyInfo(QByteArrayView body, qint64 seq)
{
    return infoOnly(decodeChunk(body, seq));
}

} // namespace sessionscope
