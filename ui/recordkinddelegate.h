#pragma once

#include "net/streamrecord.h"

#include <QColor>
#include <QStyledItemDelegate>

namespace sessionscope {

// Colours the inspector's rows: the channel column in/out, the kind column
// data/control/command, errors in red, the rest in a monospace face.
class RecordKindDelegate : public QStyledItemDelegate
{
    Q_OBJECT

public:
    explicit RecordKindDelegate(QObject *parent = nullptr);

    static QColor kindColor(RecordKind kind);
    static QColor channelColor(Channel channel);

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override;
};

} // namespace sessionscope
