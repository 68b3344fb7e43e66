#pragma once

#include "net/streamrecord.h"

#include <QByteArray>
#include <QList>
#include <QSortFilterProxyModel>
#include <QStringList>

#include <optional>

namespace sessionscope {

class StreamRecordModel;

// The inspector's filters over a StreamRecordModel: channel, kinds, types
// and free text. Filtering reads the compact records directly (no QVariant,
// no decoding), and text matching works on the stored UTF-8 bytes (ASCII
// letters case-insensitively), so a filter over a million rows is one pass
// over memory.
class StreamRecordFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit StreamRecordFilterModel(QObject *parent = nullptr);

    // Must be a StreamRecordModel; anything else shows no rows.
    void setSourceModel(QAbstractItemModel *model) override;
    StreamRecordModel *recordModel() const { return m_records; }

    void setChannelFilter(std::optional<Channel> channel);
    std::optional<Channel> channelFilter() const { return m_channel; }
    // Empty: every kind.
    void setKindFilter(const QList<RecordKind> &kinds);
    QList<RecordKind> kindFilter() const;
    // Chunk types / subtypes; "data-*" (a trailing star) matches a prefix.
    // Empty: every type.
    void setTypeFilter(const QStringList &types);
    QStringList typeFilter() const { return m_types; }
    // Matches the type, the summary or the raw body.
    void setTextFilter(const QString &text);
    QString textFilter() const { return m_text; }

    // Jump to seq: the row for `seq` on `channel`, or the first visible row
    // after it when that record is filtered out or gone; invalid when none.
    QModelIndex indexForSeq(Channel channel, qint64 seq, int column = 0) const;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    bool typeAccepted(const QString &type) const;

    StreamRecordModel *m_records = nullptr;
    std::optional<Channel> m_channel;
    quint8 m_kindMask = 0; // bit per RecordKind; 0: all
    QStringList m_types;
    QString m_text;
    QByteArray m_needle; // m_text as UTF-8, ASCII lower-cased
};

} // namespace sessionscope
