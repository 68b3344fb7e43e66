#pragma once

#include "models/bytearena.h"
#include "models/compactrecord.h"
#include "models/recordbatchdecoder.h"
#include "net/streamrecord.h"

#include <QAbstractTableModel>
#include <QFuture>
#include <QHash>
#include <QList>
#include <QString>

#include <vector>

namespace sessionscope {

// The inspector's table of raw stream records, `.in` and `.out` merged in
// arrival order. Built for a million rows: each record is a 40-byte
// CompactRecord plus its bytes in a ByteArena, types are interned, and the
// summary was computed off the UI thread by RecordBatchDecoder, so data()
// never parses. Rows arrive only through appendBatch(), one insertion per
// batch; past the cap the oldest rows go in one removal.
//
// Columns and what DisplayRole shows:
//   SeqColumn      seq_num                        (TextAlignmentRole: right)
//   TimeColumn     server timestamp, local "HH:mm:ss.zzz"
//   ChannelColumn  "in" / "out"
//   KindColumn     "data" / "control" / "command"
//   TypeColumn     chunk type (.out), ChatInputChunk kind (.in), control subtype, command op
//   SizeColumn     body plus header bytes         (TextAlignmentRole: right)
//   SummaryColumn  one line: the delta, tool name and input, the error, ...
// Every column answers the custom roles below for its row; ToolTipRole gives
// the full timestamp and, for a record that did not decode, why.
class StreamRecordModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { SeqColumn, TimeColumn, ChannelColumn, KindColumn, TypeColumn, SizeColumn, SummaryColumn, ColumnCount };
    Q_ENUM(Column)

    enum Role {
        SeqRole = Qt::UserRole + 1, // qint64
        TimestampRole,              // qint64 ms since the epoch
        ChannelRole,                // int(Channel)
        KindRole,                   // int(RecordKind)
        TypeRole,                   // QString
        SizeRole,                   // qint64
        SummaryRole,                // QString
        BodyRole,                   // QByteArray, exactly as received
        HeadersRole,                // QVariantList of QStringList{name, value}; tokens masked
        HasErrorRole,               // bool: the body did not decode (SummaryRole says why)
        CarriesTokenRole,           // bool: a control record with a new public access token
    };
    Q_ENUM(Role)

    static constexpr qsizetype DefaultMaxRecords = 1'000'000;
    static constexpr qint64 DefaultMaxStoredBytes = qint64(1) << 30;

    explicit StreamRecordModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    // One beginInsertRows for the whole batch (and at most one
    // beginRemoveRows before it when the cap is reached). Records at or
    // below the last seq of their channel are dropped and counted.
    void appendBatch(const RecordBatch &batch);
    void clear();

    // The cap: past either limit the oldest rows are dropped, down to 95 %
    // of it so eviction happens in chunks rather than on every batch.
    void setMaxRecords(qsizetype maxRecords);
    qsizetype maxRecords() const { return m_maxRecords; }
    // Limits the bytes kept for records (headers, bodies, summaries); 0: none.
    void setMaxStoredBytes(qint64 maxBytes);
    qint64 maxStoredBytes() const { return m_maxStoredBytes; }

    // Heap this model holds: arena blocks, the record index (by capacity),
    // the per-channel seq index and the interned type names.
    qint64 retainedBytes() const;
    qint64 storedBytes() const { return m_storedBytes; }
    qint64 evictedRecords() const { return m_evicted; }
    qint64 droppedRecords() const { return m_dropped; }
    qint64 lastSeq(Channel channel) const { return m_lastSeq[slot(channel)]; }

    // Jump to seq: binary search, seqs ascend per channel. -1 when absent.
    int rowForSeq(Channel channel, qint64 seq) const;
    // The first row of `channel` with a seq >= `seq`; -1 when none.
    int rowAtOrAfterSeq(Channel channel, qint64 seq) const;

    // Direct access for proxies and delegates; row must be valid.
    const CompactRecord &record(int row) const { return m_records[m_head + qsizetype(row)]; }
    QByteArrayView bodyView(int row) const;
    QByteArrayView headersView(int row) const;
    QByteArrayView summaryView(int row) const;
    QString typeName(const CompactRecord &record) const { return m_typeNames.value(record.typeIndex); }
    // The record as it came off the wire (a copy), for export and detail views.
    StreamRecord streamRecord(int row) const;

    // The body pretty-printed (JSON indented, `.in` string data unwrapped),
    // computed on the thread pool: a detail pane asks and never blocks.
    QFuture<QString> prettyBodyAsync(int row) const;
    static QString prettyBody(const StreamRecord &record);

Q_SIGNALS:
    void recordsEvicted(qint64 count);

private:
    static int slot(Channel channel) { return channel == Channel::In ? 0 : 1; }
    qsizetype liveCount() const { return qsizetype(m_records.size()) - m_head; }
    void evictFront(qsizetype count);
    void compact();
    void reserveFor(qsizetype incoming);
    void indexChannels();
    quint16 internType(const QByteArray &type);
    int searchSeq(Channel channel, qint64 seq, bool exact) const;
    QVariant displayData(const CompactRecord &r, int row, int column) const;
    QVariant roleData(const CompactRecord &r, int row, int role) const;

    std::vector<CompactRecord> m_records;
    qsizetype m_head = 0;       // rows before this were evicted and await compaction
    qint64 m_ordinalBase = 0;   // rows ever removed from the front: row 0's ordinal
    ByteArena m_arena;
    // Per channel, the absolute ordinals (evicted + row) of its records; kept
    // only once both channels are present, until then rows are the index.
    bool m_mixed = false;
    std::vector<qint64> m_channelOrdinals[2];
    qsizetype m_channelHead[2] = {0, 0};
    QList<QString> m_typeNames;
    QHash<QByteArray, quint16> m_typeIndex;
    qint64 m_typeBytes = 0;
    qint64 m_storedBytes = 0;
    qint64 m_lastSeq[2] = {-1, -1};
    qint64 m_evicted = 0;
    qint64 m_dropped = 0;
    qsizetype m_maxRecords = DefaultMaxRecords;
    qint64 m_maxStoredBytes = DefaultMaxStoredBytes;
};

} // namespace sessionscope
