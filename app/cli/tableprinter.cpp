#include "app/cli/tableprinter.h"

namespace sessionscope {

TablePrinter::TablePrinter(QStringList header, int maxCellWidth)
    : m_header(std::move(header)), m_maxCellWidth(qMax(4, maxCellWidth))
{
}

void TablePrinter::addRow(QStringList cells)
{
    for (QString &cell : cells) {
        cell = cell.simplified(); // a newline in a cell would break the table
        if (cell.size() > m_maxCellWidth)
            cell = cell.left(m_maxCellWidth - 1) + QStringLiteral("…");
    }
    while (cells.size() < m_header.size())
        cells.append(QString());
    m_rows.append(cells);
}

void TablePrinter::print(std::FILE *to) const
{
    QList<qsizetype> widths;
    for (const QString &h : m_header)
        widths.append(h.size());
    for (const QStringList &row : m_rows) {
        for (qsizetype i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = qMax(widths[i], row[i].size());
    }
    const auto line = [&](const QStringList &cells) {
        QString text;
        for (qsizetype i = 0; i < widths.size(); ++i) {
            const QString cell = i < cells.size() ? cells[i] : QString();
            text += i + 1 < widths.size() ? cell.leftJustified(widths[i] + 2) : cell;
        }
        std::fprintf(to, "%s\n", text.toLocal8Bit().constData());
    };
    line(m_header);
    for (const QStringList &row : m_rows)
        line(row);
    std::fflush(to);
}

} // namespace sessionscope
