#include "net/chunkbody.h"

#include "net/jsonreader.h"

#include <string_view>

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

// What a body turned out to hold. Both decoders gather these and report the
// first problem in the same order, so they always agree.
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

QByteArray bytes(const std::string &text)
{
    return QByteArray(text.data(), qsizetype(text.size()));
}

// The members of a chunk object that decodeBodyInfo() needs: its type (or
// kind). Everything else is skipped, which still validates it.
void scanChunk(JsonReader &reader, const char *typeKey, BodyFacts &facts, QByteArray &type)
{
    const Type shape = reader.peek();
    if (shape != Type::Object) {
        if (shape != Type::Invalid)
            reader.skipValue();
        return;
    }
    facts.chunkIsObject = true;
    reader.enterObject();
    std::string_view key;
    std::string text;
    while (reader.nextKey(key)) {
        if (key != typeKey) {
            reader.skipValue();
            continue;
        }
        // A repeated member counts as its last occurrence, as in a JSON tree.
        facts.typeIsString = reader.peek() == Type::String;
        if (!facts.typeIsString)
            reader.skipValue();
        else if (reader.readString(text))
            type = bytes(text);
    }
}

} // namespace

Result<DecodedBody> decodeBody(const StreamRecord &record)
{
    if (auto error = notData(record))
        return *error;
    return decodeBody(record.body, record.seqNum);
}

Result<DecodedBody> decodeBody(QByteArrayView body, qint64 seq)
{
    if (body.isEmpty())
        return bodyError(seq, QStringLiteral("empty body"));
    BodyFacts facts;
    DecodedBody out;
    json parsed;
    JsonReader reader(body);
    if (!reader.readValue(parsed) || !reader.expectEnd())
        facts.syntaxError = reader.errorMessage();
    facts.isObject = parsed.is_object();
    if (facts.isObject) {
        if (const auto id = parsed.find("id"); id != parsed.end()) {
            facts.idIsString = id->is_string();
            if (facts.idIsString)
                out.partId = bytes(id->get_ref<const std::string &>());
        }
        if (const auto data = parsed.find("data"); data == parsed.end()) {
            facts.data = BodyFacts::Shape::Missing;
        } else if (data->is_string()) {
            // `.in`: the server stored the appended ChatInputChunk text as is.
            facts.data = BodyFacts::Shape::String;
            const auto &text = data->get_ref<const std::string &>();
            JsonReader inner(QByteArrayView(text.data(), qsizetype(text.size())));
            if (!inner.readValue(out.data) || !inner.expectEnd())
                facts.innerSyntaxError = inner.errorMessage();
        } else if (data->is_object()) {
            facts.data = BodyFacts::Shape::Object;
            out.data = std::move(*data);
        } else {
            facts.data = BodyFacts::Shape::Other;
        }
        facts.chunkIsObject = out.data.is_object();
        if (facts.chunkIsObject) {
            const auto type = out.data.find(facts.typeKey());
            facts.typeIsString = type != out.data.end() && type->is_string();
            if (facts.typeIsString)
                out.chunkType = bytes(type->get_ref<const std::string &>());
        }
    }
    if (const auto problem = facts.problem())
        return bodyError(seq, *problem);
    out.dataWasString = facts.data == BodyFacts::Shape::String;
    return out;
}

Result<BodyInfo> decodeBodyInfo(const StreamRecord &record)
{
    if (auto error = notData(record))
        return *error;
    return decodeBodyInfo(record.body, record.seqNum);
}

Result<BodyInfo> decodeBodyInfo(QByteArrayView body, qint64 seq)
{
    if (body.isEmpty())
        return bodyError(seq, QStringLiteral("empty body"));
    BodyFacts facts;
    BodyInfo out;
    JsonReader reader(body);
    const Type top = reader.peek();
    facts.isObject = top == Type::Object;
    if (!facts.isObject) {
        if (top != Type::Invalid)
            reader.skipValue();
    } else {
        reader.enterObject();
        std::string_view key;
        std::string text;
        while (reader.nextKey(key)) {
            // Repeated members count as their last occurrence, as in a JSON tree.
            if (key == "id") {
                facts.idIsString = reader.peek() == Type::String;
                out.partId.clear();
                if (!facts.idIsString)
                    reader.skipValue();
                else if (reader.readString(text))
                    out.partId = bytes(text);
                continue;
            }
            if (key != "data") {
                reader.skipValue();
                continue;
            }
            const Type data = reader.peek();
            facts.innerSyntaxError.clear();
            facts.chunkIsObject = false;
            facts.typeIsString = false;
            out.chunkType.clear();
            if (data == Type::Object) {
                facts.data = BodyFacts::Shape::Object;
                scanChunk(reader, "type", facts, out.chunkType);
            } else if (data == Type::String) {
                facts.data = BodyFacts::Shape::String;
                if (!reader.readString(text))
                    continue;
                JsonReader inner(QByteArrayView(text.data(), qsizetype(text.size())));
                scanChunk(inner, "kind", facts, out.chunkType);
                if (!inner.expectEnd())
                    facts.innerSyntaxError = inner.errorMessage();
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
    return out;
}

} // namespace sessionscope
