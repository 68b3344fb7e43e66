#include "ui/recordkinddelegate.h"

#include "models/streamrecordmodel.h"

#include <QFontDatabase>

namespace sessionscope {

RecordKindDelegate::RecordKindDelegate(QObject *parent) : QStyledItemDelegate(parent) {}

QColor RecordKindDelegate::kindColor(RecordKind kind)
{
    switch (kind) {
    case RecordKind::Data: return QColor(0x2e, 0x7d, 0x32);
    case RecordKind::Control: return QColor(0xb2, 0x6a, 0x00);
    case RecordKind::Command: return QColor(0x6a, 0x1b, 0x9a);
    }
    return {};
}

QColor RecordKindDelegate::channelColor(Channel channel)
{
    return channel == Channel::In ? QColor(0x15, 0x65, 0xc0) : QColor(0x00, 0x83, 0x8f);
}

void RecordKindDelegate::initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const
{
    QStyledItemDelegate::initStyleOption(option, index);
    option->font = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    const auto kind = RecordKind(index.data(StreamRecordModel::KindRole).toInt());
    const auto channel = Channel(index.data(StreamRecordModel::ChannelRole).toInt());
    if (index.data(StreamRecordModel::HasErrorRole).toBool()) {
        option->palette.setColor(QPalette::Text, QColor(0xc6, 0x28, 0x28));
        option->backgroundBrush = QColor(0xff, 0xeb, 0xee);
        return;
    }
    switch (index.column()) {
    case StreamRecordModel::ChannelColumn:
        option->palette.setColor(QPalette::Text, channelColor(channel));
        option->font.setBold(true);
        break;
    case StreamRecordModel::KindColumn:
    case StreamRecordModel::TypeColumn:
        option->palette.setColor(QPalette::Text, kindColor(kind));
        break;
    default:
        break;
    }
    if (kind == RecordKind::Control) {
        const QString type = index.data(StreamRecordModel::TypeRole).toString();
        option->backgroundBrush = type == QLatin1String(controlheader::UpgradeRequired) ? QColor(0xff, 0xf3, 0xe0)
                                                                                         : QColor(0xff, 0xfb, 0xf0);
        if (type == QLatin1String(controlheader::UpgradeRequired))
            option->font.setBold(true);
    } else if (kind == RecordKind::Command) {
        option->backgroundBrush = QColor(0xf6, 0xf0, 0xfa);
    }
}

} // namespace sessionscope
