#include "net/s2batchdecoder.h"

#include "net/jsonreader.h"
#include "net/literal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace sessionscope {

namespace {

using json = nlohmann::json;
using Type = JsonReader::Type;

// One element of "records" while it is being read. A member given twice
// counts as its last occurrence, as it would in a JSON tree.
struct PendingRecord
{
    enum Field { Seq, Timestamp, Body, Headers, FieldCount };

    qsizetype index = 0; // position in the batch, for records without a usable seq
    std::optional<qint64> seq;
    std::optional<qint64> timestamp;
    std::optional<QByteArray> body;
    QList<StreamHeader> headers;
    QString problems[FieldCount]; // what is wrong with each member

    QString problem() const
    {
        for (const QString &p : problems) {
            if (!p.isEmpty())
                return p;
        }
        return {};
    }
    Error error(const QString &reason) const
    {
        if (seq)
            return Error::make(QStringLiteral("seq %1: %2").arg(*seq).arg(reason), *seq);
        return Error::make(QStringLiteral("record %1 of the batch: %2").arg(index).arg(reason));
    }
};

// Reads a batch or ping object straight into StreamRecords, without a JSON
// tree. A value of the wrong type costs only the record (or tail) it is in; a
// syntax error stops the read, keeping the records completed before it.
class BatchReader
{
public:
    enum class Mode : quint8 { Batch, Ping };

    BatchReader(Mode mode, QByteArrayView text, S2Event &out) : m_mode(mode), m_json(text), m_out(out) {}

    void run()
    {
        const Type top = m_json.peek();
        if (top != Type::Object) {
            if (top != Type::Invalid && m_json.skipValue() && m_json.expectEnd()) {
                m_out.errors.append(Error::make(
                    QStringLiteral("the event data is %1, not a JSON object").arg(JsonReader::typeName(top))));
            } else {
                syntaxError(nullptr);
            }
            return;
        }
        bool sawRecords = false;
        bool sawTail = false;
        std::optional<qint64> pingTimestamp;
        // A member given twice counts as its last occurrence, as in a JSON tree.
        QString recordsProblem;
        QString pingProblem;
        StreamTail tail;
        QString tailProblem;
        m_json.enterObject();
        std::string_view key;
        while (m_json.nextKey(key)) {
            if (m_mode == Mode::Batch && equalsLiteral(key, "records")) {
                sawRecords = true;
                recordsProblem.clear();
                const Type type = m_json.peek();
                if (type == Type::Array) {
                    if (!readRecords())
                        return;
                } else if (type != Type::Invalid) {
                    recordsProblem = QStringLiteral("records is %1, not an array").arg(JsonReader::typeName(type));
                    m_json.skipValue();
                }
            } else if (equalsLiteral(key, "tail")) {
                sawTail = true;
                readTail(tail, tailProblem);
            } else if (m_mode == Mode::Ping && equalsLiteral(key, "timestamp")) {
                pingProblem.clear();
                pingTimestamp = integer("the ping timestamp", pingProblem);
            } else {
                m_json.skipValue();
            }
        }
        if (!m_json.expectEnd()) {
            syntaxError(nullptr);
            return;
        }
        if (const QString problem = !recordsProblem.isEmpty() ? recordsProblem : pingProblem; !problem.isEmpty()) {
            m_out.errors.append(Error::make(problem));
            return;
        }
        if (m_mode == Mode::Batch && !sawRecords)
            m_out.errors.append(Error::make(QStringLiteral("batch without a records array")));
        if (m_mode == Mode::Ping) {
            if (pingTimestamp)
                m_out.pingTimestamp = *pingTimestamp;
            else
                m_out.errors.append(Error::make(QStringLiteral("ping without a timestamp")));
        }
        if (sawTail && tailProblem.isEmpty())
            m_out.tail = tail;
        else if (sawTail)
            m_out.errors.append(Error::make(QStringLiteral("tail: ") + tailProblem));
    }

private:
    // An integer member; on a value of another type, `problem` says so
    // (prefixed with `what`) and the value is skipped.
    std::optional<qint64> integer(const char *what, QString &problem)
    {
        const Type type = m_json.peek();
        if (Q_LIKELY(type == Type::Number)) {
            qint64 value = 0;
            const JsonReader::IntegerRead read = m_json.readInteger(value);
            if (Q_LIKELY(read == JsonReader::IntegerRead::Ok))
                return value;
            integerProblem(read, what, problem);
        } else if (type != Type::Invalid) {
            problem = QStringLiteral("%1 is %2, not an integer").arg(QLatin1String(what), JsonReader::typeName(type));
            m_json.skipValue();
        }
        return std::nullopt;
    }

    Q_DECL_COLD_FUNCTION static void integerProblem(JsonReader::IntegerRead read, const char *what, QString &problem)
    {
        if (read == JsonReader::IntegerRead::NotInteger)
            problem = QStringLiteral("%1 is a fractional number, not an integer").arg(QLatin1String(what));
        else if (read == JsonReader::IntegerRead::OutOfRange)
            problem = QStringLiteral("%1 is a number out of range, not an integer").arg(QLatin1String(what));
    }

    bool readRecords()
    {
        m_json.enterArray();
        qsizetype index = 0;
        while (m_json.nextElement()) {
            const Type type = m_json.peek();
            if (type == Type::Object) {
                if (!readRecord(index++))
                    return false;
            } else if (type != Type::Invalid) {
                PendingRecord bad;
                bad.index = index++;
                m_out.errors.append(
                    bad.error(QStringLiteral("is %1, not an object").arg(JsonReader::typeName(type))));
                m_json.skipValue();
            }
        }
        if (m_json.failed()) {
            syntaxError(nullptr);
            return false;
        }
        return true;
    }

    bool readRecord(qsizetype index)
    {
        PendingRecord rec;
        rec.index = index;
        m_json.enterObject();
        std::string_view key;
        while (m_json.nextKey(key)) {
            if (equalsLiteral(key, "seq_num")) {
                QString &problem = rec.problems[PendingRecord::Seq];
                problem.clear();
                rec.seq = integer("seq_num", problem);
                if (rec.seq && *rec.seq < 0) {
                    problem = QStringLiteral("negative seq_num %1").arg(*rec.seq);
                    rec.seq.reset();
                }
            } else if (equalsLiteral(key, "timestamp")) {
                QString &problem = rec.problems[PendingRecord::Timestamp];
                problem.clear();
                rec.timestamp = integer("timestamp", problem);
            } else if (equalsLiteral(key, "body")) {
                QString &problem = rec.problems[PendingRecord::Body];
                problem.clear();
                rec.body.reset();
                const Type type = m_json.peek();
                if (type == Type::String) {
                    QByteArray body;
                    if (m_json.readString(body))
                        rec.body = std::move(body);
                } else if (type != Type::Invalid) {
                    problem = QStringLiteral("body is %1, not a string").arg(JsonReader::typeName(type));
                    m_json.skipValue();
                }
            } else if (equalsLiteral(key, "headers")) {
                rec.problems[PendingRecord::Headers] = readHeaders(rec.headers);
            } else {
                m_json.skipValue();
            }
        }
        if (m_json.failed()) {
            syntaxError(&rec);
            return false;
        }
        QString problem = rec.problem();
        if (problem.isEmpty()) {
            if (!rec.seq)
                problem = QStringLiteral("missing seq_num");
            else if (!rec.timestamp)
                problem = QStringLiteral("missing timestamp");
            else if (!rec.body)
                problem = QStringLiteral("missing body");
        }
        if (!problem.isEmpty()) {
            m_out.errors.append(rec.error(problem));
            return true;
        }
        StreamRecord record;
        record.seqNum = *rec.seq;
        record.timestamp = *rec.timestamp;
        record.kind = StreamRecord::kindFromHeaders(rec.headers);
        record.headers = std::move(rec.headers);
        record.body = std::move(*rec.body);
        m_out.records.append(std::move(record));
        return true;
    }

    // Reads "headers" into `headers`; returns what is wrong with it, if anything.
    QString readHeaders(QList<StreamHeader> &headers)
    {
        headers.clear();
        QString problem;
        const auto wrong = [&](Type type) {
            if (problem.isEmpty()) {
                problem = QStringLiteral("headers must be [name, value] string pairs, found %1")
                              .arg(JsonReader::typeName(type));
            }
            m_json.skipValue();
        };
        Type type = m_json.peek();
        if (type != Type::Array) {
            if (type != Type::Invalid)
                wrong(type);
            return problem;
        }
        m_json.enterArray();
        while (m_json.nextElement()) {
            type = m_json.peek();
            if (type != Type::Array) {
                if (type != Type::Invalid)
                    wrong(type);
                continue;
            }
            m_json.enterArray();
            int strings = 0;
            StreamHeader header;
            while (m_json.nextElement()) {
                type = m_json.peek();
                if (type != Type::String) {
                    if (type != Type::Invalid)
                        wrong(type);
                    ++strings;
                    continue;
                }
                if (strings < 2 ? !m_json.readString(strings == 0 ? header.first : header.second)
                                : !m_json.skipValue())
                    break;
                ++strings;
            }
            if (strings != 2 && problem.isEmpty())
                problem = QStringLiteral("a header has %1 strings, not [name, value]").arg(strings);
            headers.append(std::move(header));
        }
        return problem;
    }

    void readTail(StreamTail &tail, QString &problem)
    {
        problem.clear();
        const Type type = m_json.peek();
        if (type != Type::Object) {
            if (type != Type::Invalid) {
                problem = QStringLiteral("is %1, not an object").arg(JsonReader::typeName(type));
                m_json.skipValue();
            }
            return;
        }
        std::optional<qint64> seq;
        std::optional<qint64> timestamp;
        QString seqProblem;
        QString timestampProblem;
        m_json.enterObject();
        std::string_view key;
        while (m_json.nextKey(key)) {
            if (equalsLiteral(key, "seq_num")) {
                seqProblem.clear();
                seq = integer("seq_num", seqProblem);
                if (seq && *seq < 0) {
                    seqProblem = QStringLiteral("negative seq_num %1").arg(*seq);
                    seq.reset();
                }
            } else if (equalsLiteral(key, "timestamp")) {
                timestampProblem.clear();
                timestamp = integer("timestamp", timestampProblem);
            } else {
                m_json.skipValue();
            }
        }
        problem = !seqProblem.isEmpty() ? seqProblem : timestampProblem;
        if (problem.isEmpty() && (!seq || !timestamp))
            problem = QStringLiteral("needs seq_num and timestamp");
        if (problem.isEmpty())
            tail = StreamTail{*seq, *timestamp};
    }

    void syntaxError(const PendingRecord *rec)
    {
        const QString reason = QStringLiteral("malformed JSON: ") + m_json.errorMessage();
        if (rec && rec->seq)
            m_out.errors.append(rec->error(reason));
        else
            m_out.errors.append(Error::make(reason));
    }

    Mode m_mode;
    JsonReader m_json;
    S2Event &m_out;
};

// An `event: error` carries a message; servers send it as text, a JSON string,
// or an object with "message" / "error".
QString serverErrorText(QByteArrayView data)
{
    if (data.trimmed().isEmpty())
        return QStringLiteral("the server sent an error event without a message");
    const json parsed = json::parse(data.constData(), data.constData() + data.size(), nullptr, false);
    if (parsed.is_string())
        return QString::fromStdString(parsed.get<std::string>());
    if (parsed.is_object()) {
        for (const char *key : {"message", "error"}) {
            const auto it = parsed.find(key);
            if (it == parsed.end())
                continue;
            if (it->is_string())
                return QString::fromStdString(it->get<std::string>());
            if (it->is_object() && it->contains("message") && (*it)["message"].is_string())
                return QString::fromStdString((*it)["message"].get<std::string>());
        }
    }
    return QString::fromUtf8(data);
}

// The layout S2 writes (protocol.md): no whitespace, records of seq_num,
// timestamp, body and headers in that order, then the tail. Read with literal
// matches and the same value readers as BatchReader, so whatever it accepts
// decodes exactly as BatchReader would decode it. Anything else (another
// order, whitespace, a value out of range, any error) returns false having
// added nothing, and BatchReader reads the batch instead.
bool readCompactBatch(QByteArrayView text, S2Event &out)
{
    using IntegerRead = JsonReader::IntegerRead;
    JsonReader json(text);
    const qsizetype before = out.records.size();
    const auto giveUp = [&] {
        out.records.resize(before);
        return false;
    };
    if (!json.consumeLiteral("{\"records\":["))
        return false;
    if (!json.consumeLiteral("]")) {
        do {
            StreamRecord record;
            if (!json.consumeLiteral("{\"seq_num\":") || json.readInteger(record.seqNum) != IntegerRead::Ok ||
                record.seqNum < 0 || !json.consumeLiteral(",\"timestamp\":") ||
                json.readInteger(record.timestamp) != IntegerRead::Ok || !json.consumeLiteral(",\"body\":") ||
                json.peek() != JsonReader::Type::String || !json.readString(record.body) ||
                !json.consumeLiteral(",\"headers\":[")) {
                return giveUp();
            }
            if (!json.consumeLiteral("]}")) {
                do {
                    StreamHeader header;
                    if (!json.consumeLiteral("[") || json.peek() != JsonReader::Type::String ||
                        !json.readString(header.first) || !json.consumeLiteral(",") ||
                        json.peek() != JsonReader::Type::String || !json.readString(header.second) ||
                        !json.consumeLiteral("]")) {
                        return giveUp();
                    }
                    record.headers.append(std::move(header));
                } while (json.consumeLiteral(","));
                if (!json.consumeLiteral("]}"))
                    return giveUp();
                record.kind = StreamRecord::kindFromHeaders(record.headers);
            }
            out.records.append(std::move(record));
        } while (json.consumeLiteral(","));
        if (!json.consumeLiteral("]"))
            return giveUp();
    }
    std::optional<StreamTail> tail;
    if (json.consumeLiteral(",\"tail\":{\"seq_num\":")) {
        StreamTail read;
        if (json.readInteger(read.seqNum) != IntegerRead::Ok || read.seqNum < 0 ||
            !json.consumeLiteral(",\"timestamp\":") || json.readInteger(read.timestamp) != IntegerRead::Ok ||
            !json.consumeLiteral("}")) {
            return giveUp();
        }
        tail = read;
    }
    if (!json.consumeLiteral("}") || !json.expectEnd())
        return giveUp();
    if (tail)
        out.tail = tail;
    return true;
}

} // namespace

void S2BatchDecoder::decodeBatchJson(QByteArrayView json, S2Event &into)
{
    if (!readCompactBatch(json, into))
        BatchReader(BatchReader::Mode::Batch, json, into).run();
}

void S2BatchDecoder::decodePingJson(QByteArrayView json, S2Event &into)
{
    BatchReader(BatchReader::Mode::Ping, json, into).run();
}

S2Event S2BatchDecoder::decode(const SseEvent &event)
{
    S2Event out;
    out.eventType = event.type;
    decodeData(event.type, event.data, out);
    return out;
}

void S2BatchDecoder::decode(const SseEventView &event, S2Event &out)
{
    // The usual names are shared rather than allocated per event.
    static const QByteArray known[] = {QByteArrayLiteral("batch"), QByteArrayLiteral("ping"),
                                       QByteArrayLiteral("message"), QByteArrayLiteral("error")};
    const auto it = std::find_if(std::begin(known), std::end(known), [&](const QByteArray &name) {
        return name.size() == event.type.size() &&
               std::memcmp(name.constData(), event.type.data(), size_t(name.size())) == 0;
    });
    if (it == std::end(known))
        out.eventType = event.type.toByteArray();
    else if (out.eventType.constData() != it->constData())
        out.eventType = *it;
    out.records.clear();
    out.tail.reset();
    out.pingTimestamp = 0;
    out.serverError.clear();
    out.errors.clear();
    decodeData(event.type, event.data, out);
}

void S2BatchDecoder::decodeData(QByteArrayView type, QByteArrayView data, S2Event &out)
{
    out.type = S2Event::Type::Other;
    if (equalsLiteral(type, "batch")) {
        out.type = S2Event::Type::Batch;
        decodeBatchJson(data, out);
    } else if (equalsLiteral(type, "ping")) {
        out.type = S2Event::Type::Ping;
        decodePingJson(data, out);
    } else if (equalsLiteral(type, "error")) {
        out.type = S2Event::Type::Error;
        out.serverError = serverErrorText(data);
    } else if (equalsLiteral(type, "message") && equalsLiteral(data, "[DONE]")) {
        out.type = S2Event::Type::Done;
    }
    for (const StreamRecord &record : std::as_const(out.records))
        m_lastSeq = std::max(m_lastSeq, record.seqNum);
    m_recordCount += out.records.size();
}

void S2BatchDecoder::reset()
{
    m_lastSeq = -1;
    m_recordCount = 0;
}

} // namespace sessionscope
