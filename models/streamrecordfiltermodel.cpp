#include "models/streamrecordfiltermodel.h"

#include "models/streamrecordmodel.h"

namespace sessionscope {

namespace {

char asciiLower(char c)
{
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

// `needle` is already lower-cased.
bool containsFolded(QByteArrayView haystack, QByteArrayView needle)
{
    if (needle.isEmpty())
        return true;
    if (haystack.size() < needle.size())
        return false;
    const char first = needle.front();
    const qsizetype last = haystack.size() - needle.size();
    for (qsizetype i = 0; i <= last; ++i) {
        if (asciiLower(haystack[i]) != first)
            continue;
        qsizetype j = 1;
        while (j < needle.size() && asciiLower(haystack[i + j]) == needle[j])
            ++j;
        if (j == needle.size())
            return true;
    }
    return false;
}

} // namespace

StreamRecordFilterModel::StreamRecordFilterModel(QObject *parent) : QSortFilterProxyModel(parent)
{
    // Rows stay in arrival order; the filter is all this proxy is for.
    setDynamicSortFilter(true);
}

void StreamRecordFilterModel::setSourceModel(QAbstractItemModel *model)
{
    m_records = qobject_cast<StreamRecordModel *>(model);
    QSortFilterProxyModel::setSourceModel(model);
}

void StreamRecordFilterModel::setChannelFilter(std::optional<Channel> channel)
{
    if (m_channel == channel)
        return;
    m_channel = channel;
    invalidateFilter();
}

void StreamRecordFilterModel::setKindFilter(const QList<RecordKind> &kinds)
{
    quint8 mask = 0;
    for (RecordKind kind : kinds)
        mask |= quint8(1u << int(kind));
    if (mask == m_kindMask)
        return;
    m_kindMask = mask;
    invalidateFilter();
}

QList<RecordKind> StreamRecordFilterModel::kindFilter() const
{
    QList<RecordKind> out;
    for (RecordKind kind : {RecordKind::Data, RecordKind::Control, RecordKind::Command}) {
        if (m_kindMask & (1u << int(kind)))
            out.append(kind);
    }
    return out;
}

void StreamRecordFilterModel::setTypeFilter(const QStringList &types)
{
    if (types == m_types)
        return;
    m_types = types;
    invalidateFilter();
}

void StreamRecordFilterModel::setTextFilter(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    m_needle = text.toUtf8();
    for (char &c : m_needle)
        c = asciiLower(c);
    invalidateFilter();
}

bool StreamRecordFilterModel::typeAccepted(const QString &type) const
{
    for (const QString &wanted : m_types) {
        if (wanted.endsWith(u'*') ? type.startsWith(QStringView(wanted).chopped(1)) : type == wanted)
            return true;
    }
    return false;
}

bool StreamRecordFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (!m_records || sourceParent.isValid())
        return false;
    const CompactRecord &r = m_records->record(sourceRow);
    if (m_channel && r.channel() != *m_channel)
        return false;
    if (m_kindMask && !(m_kindMask & (1u << int(r.kind))))
        return false;
    if (!m_types.isEmpty() && !typeAccepted(m_records->typeName(r)))
        return false;
    if (m_needle.isEmpty())
        return true;
    return containsFolded(m_records->summaryView(sourceRow), m_needle)
           || m_records->typeName(r).contains(m_text, Qt::CaseInsensitive)
           || containsFolded(m_records->bodyView(sourceRow), m_needle);
}

QModelIndex StreamRecordFilterModel::indexForSeq(Channel channel, qint64 seq, int column) const
{
    if (!m_records)
        return {};
    int row = m_records->rowAtOrAfterSeq(channel, seq);
    if (row < 0)
        return {};
    // The record may be filtered out: the next visible one of that channel.
    for (; row < m_records->rowCount(); ++row) {
        if (m_records->record(row).channel() != channel)
            continue;
        const QModelIndex proxy = mapFromSource(m_records->index(row, column));
        if (proxy.isValid())
            return proxy;
    }
    return {};
}

} // namespace sessionscope
