#pragma once

#include <QAbstractTableModel>
#include <QList>
#include <QString>

namespace sessionscope {

// A table of rows with stable keys, refreshed by handing it the whole new
// list. A refresh usually adds rows at the top (newest first) or the bottom
// and changes some rows in place; syncRows() turns that into row insertions
// and dataChanged, so views keep their selection and scroll position, and
// falls back to a reset only when rows were reordered or removed.
template <typename Row>
class KeyedRowsModel : public QAbstractTableModel
{
public:
    using QAbstractTableModel::QAbstractTableModel;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override
    {
        return parent.isValid() ? 0 : int(m_rows.size());
    }

    const QList<Row> &rows() const { return m_rows; }

protected:
    virtual QString rowKey(const Row &row) const = 0;

    void syncRows(const QList<Row> &next)
    {
        if (m_rows.isEmpty() && next.isEmpty())
            return;
        const qsizetype shift = m_rows.isEmpty() ? 0 : offsetOfCurrentIn(next);
        if (shift < 0) {
            beginResetModel();
            m_rows = next;
            endResetModel();
            return;
        }
        if (shift > 0) {
            beginInsertRows(QModelIndex(), 0, int(shift - 1));
            m_rows = next.mid(0, shift) + m_rows;
            endInsertRows();
        }
        int first = -1;
        int last = -1;
        const qsizetype kept = m_rows.size();
        for (qsizetype i = shift; i < kept; ++i) {
            if (m_rows[i] == next[i])
                continue;
            m_rows[i] = next[i];
            if (first < 0)
                first = int(i);
            last = int(i);
        }
        if (first >= 0)
            Q_EMIT dataChanged(index(first, 0), index(last, columnCount() - 1));
        if (next.size() > kept) {
            beginInsertRows(QModelIndex(), int(kept), int(next.size() - 1));
            m_rows.append(next.mid(kept));
            endInsertRows();
        }
    }

    // Changes rows in place; `change` returns whether it changed the row.
    template <typename Change>
    void updateRows(Change change)
    {
        for (qsizetype i = 0; i < m_rows.size(); ++i) {
            if (change(m_rows[i]))
                Q_EMIT dataChanged(index(int(i), 0), index(int(i), columnCount() - 1));
        }
    }

    void clearRows()
    {
        if (m_rows.isEmpty())
            return;
        beginResetModel();
        m_rows.clear();
        endResetModel();
    }

private:
    // Where the current rows sit, in order, inside `next`; -1 when they don't.
    qsizetype offsetOfCurrentIn(const QList<Row> &next) const
    {
        const QString firstKey = rowKey(m_rows.first());
        for (qsizetype shift = 0; shift + m_rows.size() <= next.size(); ++shift) {
            if (rowKey(next[shift]) != firstKey)
                continue;
            bool match = true;
            for (qsizetype i = 1; match && i < m_rows.size(); ++i)
                match = rowKey(next[shift + i]) == rowKey(m_rows[i]);
            if (match)
                return shift;
        }
        return -1;
    }

    QList<Row> m_rows;
};

} // namespace sessionscope
