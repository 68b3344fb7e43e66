#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include <cstdio>

namespace sessionscope {

// --table output: left-aligned columns padded to their widest cell, a header
// line, long cells cut with an ellipsis so a row stays on one line.
class TablePrinter
{
public:
    explicit TablePrinter(QStringList header, int maxCellWidth = 48);

    void addRow(QStringList cells);
    void print(std::FILE *to) const;
    bool isEmpty() const { return m_rows.isEmpty(); }

private:
    QStringList m_header;
    QList<QStringList> m_rows;
    int m_maxCellWidth;
};

} // namespace sessionscope
