#include "net/s2batchdecoder.h"

#include "net/jsonreader.h"

#include <nlohmann/json.hpp>

#include <algorithm>

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
            if (m_mode == Mode::Batch && key == "records") {
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
            } else if (key == "tail") {
                sawTail = true;
                readTail(tail, tailProblem);
            } else if (m_mode == Mode::Ping && key == "timestamp") {
                pingProblem.clear();
                pingTimestamp = integer(QStringLiteral("the ping timestamp"), pingProblem);
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
    std::optional<qint64> integer(const QString &what, QString &problem)
    {
        const Type type = m_json.peek();
        if (type == Type::Number) {
            qint64 value = 0;
            switch (m_json.readInteger(value)) {
            case JsonReader::IntegerRead::Ok:
                return value;
            case JsonReader::IntegerRead::NotInteger:
                problem = QStringLiteral("%1 is a fractional number, not an integer").arg(what);
                break;
            case JsonReader::IntegerRead::OutOfRange:
                problem = QStringLiteral("%1 is a number out of range, not an integer").arg(what);
                break;
            case JsonReader::IntegerRead::Failed:
                break;
            }
        } else if (type != Type::Invalid) {
            problem = QStringLiteral("%1 is %2, not an integer").arg(what, JsonReader::typeName(type));
            m_json.skipValue();
        }
        return std::nullopt;
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
            if (key == "seq_num") {
                QString &problem = rec.problems[PendingRecord::Seq];
                problem.clear();
                rec.seq = integer(QStringLiteral("seq_num"), problem);
                if (rec.seq && *rec.seq < 0) {
                    problem = QStringLiteral("negative seq_num %1").arg(*rec.seq);
                    rec.seq.reset();
                }
            } else if (key == "timestamp") {
                QString &problem = rec.problems[PendingRecord::Timestamp];
                problem.clear();
                rec.timestamp = integer(QStringLiteral("timestamp"), problem);
            } else if (key == "body") {
                QString &problem = rec.problems[PendingRecord::Body];
                problem.clear();
                rec.body.reset();
                const Type type = m_json.peek();
                if (type == Type::String) {
                    if (m_json.readString(m_scratch))
                        rec.body = QByteArray(m_scratch.data(), qsizetype(m_scratch.size()));
                } else if (type != Type::Invalid) {
                    problem = QStringLiteral("body is %1, not a string").arg(JsonReader::typeName(type));
                    m_json.skipValue();
                }
            } else if (key == "headers") {
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
                if (!m_json.readString(m_scratch))
                    break;
                if (strings < 2) {
                    (strings == 0 ? header.first : header.second) =
                        QByteArray(m_scratch.data(), qsizetype(m_scratch.size()));
                }
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
            if (key == "seq_num") {
                seqProblem.clear();
                seq = integer(QStringLiteral("seq_num"), seqProblem);
                if (seq && *seq < 0) {
                    seqProblem = QStringLiteral("negative seq_num %1").arg(*seq);
                    seq.reset();
                }
            } else if (key == "timestamp") {
                timestampProblem.clear();
                timestamp = integer(QStringLiteral("timestamp"), timestampProblem);
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
    std::string m_scratch; // string bytes before they are copied at their exact size
};

// An `event: error` carries a message; servers send it as text, a JSON string,
// or an object with "message" / "error".
QString serverErrorText(const QByteArray &data)
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

} // namespace

void S2BatchDecoder::decodeBatchJson(QByteArrayView json, S2Event &into)
{
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
    if (event.type == "batch") {
        out.type = S2Event::Type::Batch;
        decodeBatchJson(event.data, out);
    } else if (event.type == "ping") {
        out.type = S2Event::Type::Ping;
        decodePingJson(event.data, out);
    } else if (event.type == "error") {
        out.type = S2Event::Type::Error;
        out.serverError = serverErrorText(event.data);
    } else if (event.type == "message" && event.data == "[DONE]") {
        out.type = S2Event::Type::Done;
    }
    for (const StreamRecord &record : std::as_const(out.records))
        m_lastSeq = std::max(m_lastSeq, record.seqNum);
    m_recordCount += out.records.size();
    return out;
}

void S2BatchDecoder::reset()
{
    m_lastSeq = -1;
    m_recordCount = 0;
}

} // namespace sessionscope
