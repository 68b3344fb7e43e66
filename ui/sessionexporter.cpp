#include "ui/sessionexporter.h"

#include "net/saturate.h"
#include "models/jsontext.h"
#include "models/streamrecordmodel.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QtConcurrent>

namespace sessionscope {

QList<ChannelRecord> SessionExporter::snapshot(const StreamRecordModel &model)
{
    QList<ChannelRecord> out;
    out.reserve(model.rowCount());
    for (int row = 0; row < model.rowCount(); ++row)
        out.append({model.record(row).channel(), model.streamRecord(row)});
    return out;
}

QByteArray SessionExporter::recordLine(const ChannelRecord &record)
{
    const StreamRecord &r = record.second;
    QJsonArray headers;
    for (const auto &h : r.headers) {
        // Refreshed tokens are secrets; the export shows that one was there.
        const bool secret = h.first == controlheader::PublicAccessToken;
        headers.append(QJsonArray{QString::fromUtf8(h.first),
                                  secret ? QStringLiteral("<redacted>") : QString::fromUtf8(h.second)});
    }
    const QJsonObject o{{QStringLiteral("channel"), record.first == Channel::In ? QStringLiteral("in") : QStringLiteral("out")},
                        {QStringLiteral("seq_num"), r.seqNum},
                        {QStringLiteral("timestamp"), r.timestamp},
                        {QStringLiteral("headers"), headers},
                        {QStringLiteral("body"), QString::fromUtf8(r.body)}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
}

Result<ChannelRecord> SessionExporter::parseLine(QByteArrayView line, int lineNumber)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(line.toByteArray(), &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return Error::make(QObject::tr("line %1: not a JSON object (%2)")
                               .arg(lineNumber)
                               .arg(error.error != QJsonParseError::NoError ? error.errorString() : QString()));
    const QJsonObject o = doc.object();
    const QString channel = o.value(QStringLiteral("channel")).toString();
    if (channel != QLatin1String("in") && channel != QLatin1String("out"))
        return Error::make(QObject::tr("line %1: channel must be \"in\" or \"out\"").arg(lineNumber));
    if (!o.value(QStringLiteral("seq_num")).isDouble())
        return Error::make(QObject::tr("line %1: seq_num must be a number").arg(lineNumber));
    StreamRecord r;
    r.seqNum = saturatedInt64(o.value(QStringLiteral("seq_num")).toDouble());
    r.timestamp = saturatedInt64(o.value(QStringLiteral("timestamp")).toDouble());
    for (const QJsonValue &h : o.value(QStringLiteral("headers")).toArray()) {
        const QJsonArray pair = h.toArray();
        if (pair.size() != 2)
            return Error::make(QObject::tr("line %1: a header must be [name, value]").arg(lineNumber));
        r.headers.append({pair[0].toString().toUtf8(), pair[1].toString().toUtf8()});
    }
    r.kind = StreamRecord::kindFromHeaders(r.headers);
    r.body = o.value(QStringLiteral("body")).toString().toUtf8();
    return ChannelRecord{channel == QLatin1String("in") ? Channel::In : Channel::Out, r};
}

QFuture<Result<void>> SessionExporter::writeRecords(const QString &path, QList<ChannelRecord> records)
{
    return QtConcurrent::run([path, records = std::move(records)]() -> Result<void> {
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return Error::make(QObject::tr("Cannot write %1: %2").arg(path, file.errorString()));
        for (const ChannelRecord &r : records)
            file.write(recordLine(r));
        if (!file.commit())
            return Error::make(QObject::tr("Cannot write %1: %2").arg(path, file.errorString()));
        return {};
    });
}

QFuture<Result<void>> SessionExporter::writeTranscript(const QString &path, QList<UIMessage> messages)
{
    return QtConcurrent::run([path, messages = std::move(messages)]() -> Result<void> {
        QJsonArray out;
        for (const UIMessage &m : messages) {
            const QString role = m.role == MessageRole::User ? QStringLiteral("user")
                                 : m.role == MessageRole::System ? QStringLiteral("system")
                                                                 : QStringLiteral("assistant");
            QJsonObject o{{QStringLiteral("id"), m.id},
                          {QStringLiteral("role"), role},
                          {QStringLiteral("text"), m.text()},
                          {QStringLiteral("firstSeq"), m.firstSeq},
                          {QStringLiteral("lastSeq"), m.lastSeq}};
            if (!m.reasoning().isEmpty())
                o.insert(QStringLiteral("reasoning"), m.reasoning());
            if (!m.finishReason.isEmpty())
                o.insert(QStringLiteral("finishReason"), m.finishReason);
            if (!m.errorText.isEmpty())
                o.insert(QStringLiteral("error"), m.errorText);
            if (!m.clientData.is_null())
                o.insert(QStringLiteral("clientData"),
                         QJsonDocument::fromJson(jsonText(m.clientData, -1, false).toUtf8()).object());
            out.append(o);
        }
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return Error::make(QObject::tr("Cannot write %1: %2").arg(path, file.errorString()));
        file.write(QJsonDocument(QJsonObject{{QStringLiteral("messages"), out}}).toJson(QJsonDocument::Indented));
        if (!file.commit())
            return Error::make(QObject::tr("Cannot write %1: %2").arg(path, file.errorString()));
        return {};
    });
}

QFuture<Result<QList<ChannelRecord>>> SessionExporter::readRecords(const QString &path)
{
    return QtConcurrent::run([path]() -> Result<QList<ChannelRecord>> {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return Error::make(QObject::tr("Cannot open %1: %2").arg(path, file.errorString()));
        QList<ChannelRecord> records;
        int lineNumber = 0;
        while (!file.atEnd()) {
            const QByteArray line = file.readLine().trimmed();
            ++lineNumber;
            if (line.isEmpty())
                continue;
            auto record = parseLine(line, lineNumber);
            if (!record.ok())
                return Error::make(QObject::tr("%1: %2").arg(path, record.error().message));
            records.append(*record);
        }
        return records;
    });
}

} // namespace sessionscope
