#include "models/streamrecordmodel.h"

#include "models/jsontext.h"

#include "net/chunkbody.h"
#include "net/redaction.h"

#include <QColor>
#include <QDateTime>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <limits>

namespace sessionscope {

namespace {

QString hexPreview(const QByteArray &bytes, qsizetype max = 256)
{
    QString out = QString::fromLatin1(bytes.left(max).toHex(' '));
    if (bytes.size() > max)
        out += QStringLiteral(" … (%1 bytes)").arg(bytes.size());
    return out;
}

// Rough cost of one QHash node holding a QByteArray key and a small value.
constexpr qint64 HashNodeBytes = 48;

} // namespace

StreamRecordModel::StreamRecordModel(QObject *parent) : QAbstractTableModel(parent)
{
    internType(QByteArray()); // index 0: no type
}

int StreamRecordModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(liveCount());
}

int StreamRecordModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QByteArrayView StreamRecordModel::headersView(int row) const
{
    const CompactRecord &r = record(row);
    return m_arena.view({r.block, r.offset}, r.headersLength);
}

QByteArrayView StreamRecordModel::bodyView(int row) const
{
    const CompactRecord &r = record(row);
    return m_arena.view({r.block, r.offset + r.headersLength}, r.bodyLength);
}

QByteArrayView StreamRecordModel::summaryView(int row) const
{
    const CompactRecord &r = record(row);
    return m_arena.view({r.block, r.offset + r.headersLength + r.bodyLength}, r.summaryLength);
}

StreamRecord StreamRecordModel::streamRecord(int row) const
{
    const CompactRecord &r = record(row);
    StreamRecord out;
    out.seqNum = r.seq;
    out.timestamp = r.timestamp;
    out.kind = r.kind;
    out.headers = compactheaders::decode(headersView(row));
    out.body = bodyView(row).toByteArray();
    return out;
}

QVariant StreamRecordModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const int row = index.row();
    const CompactRecord &r = record(row);
    switch (role) {
    case Qt::DisplayRole:
        return displayData(r, row, index.column());
    case Qt::TextAlignmentRole:
        if (index.column() == SeqColumn || index.column() == SizeColumn)
            return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
        return {};
    case Qt::ForegroundRole:
        if (r.hasError())
            return QColor(Qt::darkRed);
        if (r.kind == RecordKind::Command)
            return QColor(Qt::gray);
        return {};
    case Qt::ToolTipRole: {
        QString tip = QDateTime::fromMSecsSinceEpoch(r.timestamp, Qt::UTC).toString(Qt::ISODateWithMs);
        if (r.hasError())
            tip += u'\n' + QString::fromUtf8(summaryView(row));
        return tip;
    }
    default:
        return roleData(r, row, role);
    }
}

QVariant StreamRecordModel::displayData(const CompactRecord &r, int row, int column) const
{
    switch (column) {
    case SeqColumn:
        return r.seq;
    case TimeColumn:
        return QDateTime::fromMSecsSinceEpoch(r.timestamp).toString(QStringLiteral("HH:mm:ss.zzz"));
    case ChannelColumn:
        return QString::fromLatin1(channelName(r.channel()));
    case KindColumn:
        return QString::fromLatin1(recordKindName(r.kind));
    case TypeColumn:
        return typeName(r);
    case SizeColumn:
        return roleData(r, row, SizeRole);
    case SummaryColumn:
        return QString::fromUtf8(summaryView(row));
    }
    return {};
}

QVariant StreamRecordModel::roleData(const CompactRecord &r, int row, int role) const
{
    switch (role) {
    case SeqRole:
        return r.seq;
    case TimestampRole:
        return r.timestamp;
    case ChannelRole:
        return int(r.channel());
    case KindRole:
        return int(r.kind);
    case TypeRole:
        return typeName(r);
    case SizeRole:
        return qint64(r.bodyLength) + qint64(compactheaders::payloadSize(headersView(row)));
    case SummaryRole:
        return QString::fromUtf8(summaryView(row));
    case BodyRole:
        return bodyView(row).toByteArray();
    case HeadersRole: {
        QVariantList out;
        for (const StreamHeader &h : compactheaders::decode(headersView(row))) {
            out.append(QStringList{QString::fromUtf8(h.first),
                                   QString::fromUtf8(redactHeaderValue(h.first, h.second))});
        }
        return out;
    }
    case HasErrorRole:
        return r.hasError();
    case CarriesTokenRole:
        return bool(r.flags & CompactRecord::TokenHeader);
    }
    return {};
}

QVariant StreamRecordModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case SeqColumn:
        return tr("Seq");
    case TimeColumn:
        return tr("Time");
    case ChannelColumn:
        return tr("Channel");
    case KindColumn:
        return tr("Kind");
    case TypeColumn:
        return tr("Type");
    case SizeColumn:
        return tr("Size");
    case SummaryColumn:
        return tr("Summary");
    }
    return {};
}

QHash<int, QByteArray> StreamRecordModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(SeqRole, "seq");
    names.insert(TimestampRole, "timestamp");
    names.insert(ChannelRole, "channel");
    names.insert(KindRole, "kind");
    names.insert(TypeRole, "type");
    names.insert(SizeRole, "size");
    names.insert(SummaryRole, "summary");
    names.insert(BodyRole, "body");
    names.insert(HeadersRole, "headers");
    names.insert(HasErrorRole, "hasError");
    names.insert(CarriesTokenRole, "carriesToken");
    return names;
}

quint16 StreamRecordModel::internType(const QByteArray &type)
{
    if (const auto it = m_typeIndex.constFind(type); it != m_typeIndex.constEnd())
        return *it;
    if (m_typeNames.size() > std::numeric_limits<quint16>::max())
        return 0; // the summary still says what the record is
    const auto at = quint16(m_typeNames.size());
    m_typeNames.append(QString::fromUtf8(type));
    m_typeIndex.insert(type, at);
    m_typeBytes += HashNodeBytes + type.capacity() + m_typeNames.back().capacity() * qint64(sizeof(QChar));
    return at;
}

void StreamRecordModel::appendBatch(const RecordBatch &batch)
{
    // Keep only records that extend their channel: binary search relies on it.
    std::vector<quint32> accepted;
    accepted.reserve(size_t(batch.records.size()));
    qint64 last[2] = {m_lastSeq[0], m_lastSeq[1]};
    for (qsizetype i = 0; i < batch.records.size(); ++i) {
        const CompactRecord &r = batch.records[i];
        qint64 &channelLast = last[slot(r.channel())];
        if (r.seq <= channelLast || qsizetype(r.offset) + r.storedLength() > batch.bytes.size()) {
            ++m_dropped;
            continue;
        }
        channelLast = r.seq;
        accepted.push_back(quint32(i));
    }
    m_lastSeq[0] = last[0];
    m_lastSeq[1] = last[1];
    if (accepted.empty())
        return;

    // A batch larger than the cap keeps its newest records.
    qsizetype keepFrom = qsizetype(accepted.size());
    qint64 newBytes = 0;
    while (keepFrom > 0) {
        const qint64 length = batch.records[accepted[size_t(keepFrom - 1)]].storedLength();
        const qsizetype kept = qsizetype(accepted.size()) - keepFrom;
        if (kept > 0 && (kept >= m_maxRecords || (m_maxStoredBytes > 0 && newBytes + length > m_maxStoredBytes)))
            break;
        newBytes += length;
        --keepFrom;
    }
    const qsizetype newCount = qsizetype(accepted.size()) - keepFrom;
    m_evicted += keepFrom;

    // Make room in one removal, down to 95 % of the cap.
    const qsizetype live = liveCount();
    if (live + newCount > m_maxRecords || (m_maxStoredBytes > 0 && m_storedBytes + newBytes > m_maxStoredBytes)) {
        const qsizetype targetRecords = m_maxRecords - m_maxRecords / 20;
        const qint64 targetBytes = m_maxStoredBytes - m_maxStoredBytes / 20;
        qsizetype evict = 0;
        qint64 freed = 0;
        while (evict < live
               && (live - evict + newCount > targetRecords
                   || (m_maxStoredBytes > 0 && m_storedBytes - freed + newBytes > targetBytes))) {
            freed += m_records[size_t(m_head + evict)].storedLength();
            ++evict;
        }
        if (evict > 0) {
            beginRemoveRows(QModelIndex(), 0, int(evict - 1));
            evictFront(evict);
            endRemoveRows();
            Q_EMIT recordsEvicted(evict);
        }
    }

    // The per-channel index starts the moment a second channel shows up.
    if (!m_mixed) {
        const Channel first = liveCount() > 0 ? record(0).channel()
                                              : batch.records[accepted[size_t(keepFrom)]].channel();
        for (size_t i = size_t(keepFrom); i < accepted.size(); ++i) {
            if (batch.records[accepted[i]].channel() != first) {
                indexChannels();
                break;
            }
        }
    }

    std::vector<quint16> typeMap(size_t(batch.types.size()));
    for (qsizetype t = 0; t < batch.types.size(); ++t)
        typeMap[size_t(t)] = internType(batch.types[t]);

    const int firstRow = int(liveCount());
    beginInsertRows(QModelIndex(), firstRow, firstRow + int(newCount) - 1);
    reserveFor(newCount);
    for (size_t i = size_t(keepFrom); i < accepted.size(); ++i) {
        CompactRecord r = batch.records[accepted[i]];
        const ByteArena::Location at =
            m_arena.append(QByteArrayView(batch.bytes).sliced(r.offset, r.storedLength()));
        r.block = at.block;
        r.offset = at.offset;
        r.typeIndex = r.typeIndex < typeMap.size() ? typeMap[r.typeIndex] : 0;
        if (m_mixed)
            m_channelOrdinals[slot(r.channel())].push_back(m_ordinalBase + liveCount());
        m_records.push_back(r);
        m_storedBytes += r.storedLength();
    }
    endInsertRows();
}

void StreamRecordModel::evictFront(qsizetype count)
{
    for (qsizetype i = 0; i < count; ++i)
        m_storedBytes -= m_records[size_t(m_head + i)].storedLength();
    m_head += count;
    m_ordinalBase += count;
    m_evicted += count;
    if (liveCount() > 0)
        m_arena.releaseBlocksBefore(m_records[size_t(m_head)].block);
    else
        m_arena.clear();
    for (int c = 0; c < 2; ++c) {
        const std::vector<qint64> &ordinals = m_channelOrdinals[c];
        qsizetype &head = m_channelHead[c];
        head = std::lower_bound(ordinals.begin() + head, ordinals.end(), m_ordinalBase) - ordinals.begin();
    }
    compact();
}

// Evicted entries are erased once they outnumber the live ones, so the cost
// of moving the live ones is paid at most once per as many evictions.
void StreamRecordModel::compact()
{
    constexpr qsizetype MinimumDead = 4096;
    if (m_head >= MinimumDead && m_head >= liveCount()) {
        m_records.erase(m_records.begin(), m_records.begin() + m_head);
        m_head = 0;
    }
    for (int c = 0; c < 2; ++c) {
        std::vector<qint64> &ordinals = m_channelOrdinals[c];
        qsizetype &head = m_channelHead[c];
        if (head >= MinimumDead && head >= qsizetype(ordinals.size()) - head) {
            ordinals.erase(ordinals.begin(), ordinals.begin() + head);
            head = 0;
        }
    }
}

// Grows the index geometrically but never past the cap, and drops evicted
// entries rather than growing for them: at the cap the index is exactly
// maxRecords entries.
void StreamRecordModel::reserveFor(qsizetype incoming)
{
    if (m_records.size() + size_t(incoming) <= m_records.capacity())
        return;
    if (m_head > 0) {
        m_records.erase(m_records.begin(), m_records.begin() + m_head);
        m_head = 0;
    }
    const size_t needed = m_records.size() + size_t(incoming);
    if (needed <= m_records.capacity())
        return;
    const size_t doubled = qMin(m_records.capacity() * 2, size_t(m_maxRecords));
    m_records.reserve(qMax(needed, doubled));
}

void StreamRecordModel::indexChannels()
{
    m_mixed = true;
    for (int c = 0; c < 2; ++c) {
        m_channelOrdinals[c].clear();
        m_channelHead[c] = 0;
    }
    for (qsizetype row = 0; row < liveCount(); ++row)
        m_channelOrdinals[slot(record(int(row)).channel())].push_back(m_ordinalBase + row);
}

int StreamRecordModel::searchSeq(Channel channel, qint64 seq, bool exact) const
{
    if (liveCount() == 0)
        return -1;
    int row = -1;
    if (!m_mixed) {
        if (record(0).channel() != channel)
            return -1;
        const auto begin = m_records.begin() + m_head;
        const auto it = std::lower_bound(begin, m_records.end(), seq,
                                         [](const CompactRecord &r, qint64 s) { return r.seq < s; });
        if (it == m_records.end())
            return -1;
        row = int(it - begin);
    } else {
        const std::vector<qint64> &ordinals = m_channelOrdinals[slot(channel)];
        const auto it = std::lower_bound(ordinals.begin() + m_channelHead[slot(channel)], ordinals.end(), seq,
                                         [this](qint64 ordinal, qint64 s) {
                                             return record(int(ordinal - m_ordinalBase)).seq < s;
                                         });
        if (it == ordinals.end())
            return -1;
        row = int(*it - m_ordinalBase);
    }
    if (exact && record(row).seq != seq)
        return -1;
    return row;
}

int StreamRecordModel::rowForSeq(Channel channel, qint64 seq) const
{
    return searchSeq(channel, seq, true);
}

int StreamRecordModel::rowAtOrAfterSeq(Channel channel, qint64 seq) const
{
    return searchSeq(channel, seq, false);
}

void StreamRecordModel::clear()
{
    beginResetModel();
    m_records = {};
    m_head = 0;
    m_ordinalBase = 0;
    m_arena.clear();
    m_mixed = false;
    for (int c = 0; c < 2; ++c) {
        m_channelOrdinals[c] = {};
        m_channelHead[c] = 0;
        m_lastSeq[c] = -1;
    }
    m_storedBytes = 0;
    endResetModel();
}

void StreamRecordModel::setMaxRecords(qsizetype maxRecords)
{
    m_maxRecords = std::clamp<qsizetype>(maxRecords, 1, std::numeric_limits<int>::max());
    if (liveCount() > m_maxRecords) {
        const qsizetype evict = liveCount() - m_maxRecords;
        beginRemoveRows(QModelIndex(), 0, int(evict - 1));
        evictFront(evict);
        endRemoveRows();
        Q_EMIT recordsEvicted(evict);
    }
    // A lower cap gives back the index grown for the old one.
    if (m_records.capacity() > size_t(m_maxRecords)) {
        m_records.erase(m_records.begin(), m_records.begin() + m_head);
        m_head = 0;
        m_records.shrink_to_fit();
        for (int c = 0; c < 2; ++c) {
            std::vector<qint64> &ordinals = m_channelOrdinals[c];
            ordinals.erase(ordinals.begin(), ordinals.begin() + m_channelHead[c]);
            m_channelHead[c] = 0;
            ordinals.shrink_to_fit();
        }
    }
}

void StreamRecordModel::setMaxStoredBytes(qint64 maxBytes)
{
    m_maxStoredBytes = qMax<qint64>(0, maxBytes);
    if (m_maxStoredBytes == 0 || m_storedBytes <= m_maxStoredBytes)
        return;
    qsizetype evict = 0;
    qint64 freed = 0;
    while (evict < liveCount() && m_storedBytes - freed > m_maxStoredBytes)
        freed += m_records[size_t(m_head + evict++)].storedLength();
    beginRemoveRows(QModelIndex(), 0, int(evict - 1));
    evictFront(evict);
    endRemoveRows();
    Q_EMIT recordsEvicted(evict);
}

qint64 StreamRecordModel::retainedBytes() const
{
    qint64 bytes = qint64(sizeof(*this));
    bytes += m_arena.capacityBytes();
    bytes += m_arena.blockCount() * qint64(sizeof(void *) * 4); // block headers and the deque's map
    bytes += qint64(m_records.capacity() * sizeof(CompactRecord));
    for (const auto &ordinals : m_channelOrdinals)
        bytes += qint64(ordinals.capacity() * sizeof(qint64));
    bytes += m_typeBytes + m_typeNames.capacity() * qint64(sizeof(QString));
    return bytes;
}

QString StreamRecordModel::prettyBody(const StreamRecord &record)
{
    QString out;
    for (const StreamHeader &h : record.headers)
        out += QString::fromUtf8(h.first) + QStringLiteral(": ") + QString::fromUtf8(redactHeaderValue(h.first, h.second)) + u'\n';
    if (record.kind != RecordKind::Data) {
        if (!record.body.isEmpty())
            out += (out.isEmpty() ? QString() : QStringLiteral("\n")) + hexPreview(record.body);
        return out;
    }
    Result<DecodedBody> body = decodeBody(record);
    if (!body)
        return body.error().message + QStringLiteral("\n\n") + QString::fromUtf8(record.body);
    nlohmann::json shown = nlohmann::json::object();
    shown["data"] = std::move(body->data);
    if (!body->partId.isEmpty())
        shown["id"] = body->partId.toStdString();
    return jsonText(shown, 2);
}

QFuture<QString> StreamRecordModel::prettyBodyAsync(int row) const
{
    return QtConcurrent::run([record = streamRecord(row)] { return prettyBody(record); });
}

} // namespace sessionscope
