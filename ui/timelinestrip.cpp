#include "ui/timelinestrip.h"

#include "models/recordbatchdecoder.h"

#include <QPainter>
#include <QPainterPath>

namespace sessionscope {

TimelineStrip::TimelineStrip(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("timelineStrip"));
    setToolTip(tr("Chunks per second on .out; grey ticks end turns, numbers are the time to first chunk, "
                  "orange marks are upgrades."));
}

QSize TimelineStrip::sizeHint() const
{
    return {600, 72};
}

QSize TimelineStrip::minimumSizeHint() const
{
    return {200, 60};
}

void TimelineStrip::clear()
{
    m_perSecond.clear();
    m_turns.clear();
    m_upgrades.clear();
    m_pendingSendMs = 0;
    m_inTurn = false;
    m_chunks = 0;
    update();
}

void TimelineStrip::observe(const RecordBatch &batch)
{
    if (batch.isEmpty())
        return;
    for (const CompactRecord &r : batch.records) {
        if (r.channel() == Channel::In) {
            if (r.kind == RecordKind::Data && batch.type(r) == "message")
                m_pendingSendMs = r.timestamp;
            continue;
        }
        if (r.kind == RecordKind::Data) {
            ++m_chunks;
            ++m_perSecond[r.timestamp / 1000];
            if (!m_inTurn) {
                m_inTurn = true;
                m_turns.append({m_pendingSendMs, r.timestamp, 0});
                m_pendingSendMs = 0;
            }
        } else if (r.kind == RecordKind::Control) {
            const QByteArray type = batch.type(r);
            if (type == controlheader::TurnComplete) {
                if (!m_inTurn)
                    m_turns.append({m_pendingSendMs, 0, r.timestamp}); // a turn with no content
                else
                    m_turns.last().completedAtMs = r.timestamp;
                m_inTurn = false;
                m_pendingSendMs = 0;
            } else if (type == controlheader::UpgradeRequired) {
                m_upgrades.append(r.timestamp);
            }
        }
    }
    // Forget what has scrolled off.
    if (!m_perSecond.isEmpty()) {
        const qint64 cutoff = m_perSecond.lastKey() - WindowSeconds;
        while (!m_perSecond.isEmpty() && m_perSecond.firstKey() < cutoff)
            m_perSecond.erase(m_perSecond.begin());
        while (m_turns.size() > 1000)
            m_turns.removeFirst();
    }
    update();
}

void TimelineStrip::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QRect area = rect().adjusted(4, 16, -4, -14);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().mid().color());
    p.drawRect(rect().adjusted(0, 0, -1, -1));
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);

    if (m_perSecond.isEmpty() && m_turns.isEmpty()) {
        p.setPen(palette().placeholderText().color());
        p.drawText(rect(), Qt::AlignCenter, tr("timeline: no .out chunks yet"));
        return;
    }
    qint64 lastSec = m_perSecond.isEmpty() ? 0 : m_perSecond.lastKey();
    for (qint64 u : m_upgrades)
        lastSec = std::max(lastSec, u / 1000);
    if (!m_turns.isEmpty())
        lastSec = std::max(lastSec, std::max(m_turns.last().completedAtMs, m_turns.last().firstChunkMs) / 1000);
    qint64 firstSec = m_perSecond.isEmpty() ? lastSec : m_perSecond.firstKey();
    for (qint64 u : m_upgrades)
        firstSec = std::min(firstSec, u / 1000);
    firstSec = std::max(firstSec, lastSec - WindowSeconds);
    const qint64 span = std::max<qint64>(30, lastSec - firstSec + 2);
    const double pxPerMs = double(area.width()) / double(span * 1000);
    const auto xOf = [&](qint64 ms) { return area.left() + (ms - firstSec * 1000) * pxPerMs; };

    int peak = 1;
    for (int v : m_perSecond)
        peak = std::max(peak, v);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(0x00, 0x83, 0x8f, 170));
    const double barWidth = std::max(1.0, 1000 * pxPerMs - 1);
    for (auto it = m_perSecond.constBegin(); it != m_perSecond.constEnd(); ++it) {
        if (it.key() < firstSec)
            continue;
        const double h = double(area.height()) * it.value() / peak;
        p.drawRect(QRectF(xOf(it.key() * 1000), area.bottom() - h, barWidth, h));
    }

    for (const Turn &t : m_turns) {
        if (t.completedAtMs > 0 && t.completedAtMs / 1000 >= firstSec) {
            p.setPen(QPen(QColor(0x75, 0x75, 0x75), 1, Qt::DashLine));
            const double x = xOf(t.completedAtMs);
            p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()));
        }
        if (t.sentAtMs > 0 && t.firstChunkMs > 0 && t.firstChunkMs / 1000 >= firstSec) {
            p.setPen(QColor(0x37, 0x47, 0x4f));
            p.drawText(QPointF(xOf(t.firstChunkMs) + 2, rect().bottom() - 2),
                       tr("%1 ms").arg(t.firstChunkMs - t.sentAtMs));
        } else if (t.firstChunkMs == 0 && t.completedAtMs / 1000 >= firstSec) {
            p.setPen(QColor(0xc6, 0x28, 0x28));
            p.drawText(QPointF(xOf(t.completedAtMs) + 2, rect().bottom() - 2), tr("empty turn"));
        }
    }

    for (qint64 u : m_upgrades) {
        if (u / 1000 < firstSec)
            continue;
        const double x = xOf(u);
        p.setPen(QPen(QColor(0xe6, 0x51, 0x00), 2));
        p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()));
        QPainterPath tri;
        tri.moveTo(x - 5, 2);
        tri.lineTo(x + 5, 2);
        tri.lineTo(x, 10);
        tri.closeSubpath();
        p.fillPath(tri, QColor(0xe6, 0x51, 0x00));
        p.drawText(QPointF(x + 7, 11), tr("upgrade"));
    }

    p.setPen(palette().text().color());
    p.drawText(QRect(rect().left() + 6, 1, rect().width() - 12, 14), Qt::AlignRight | Qt::AlignVCenter,
               tr("%1 turns · %2 chunks · peak %3/s").arg(m_turns.size()).arg(m_chunks).arg(peak));
}

} // namespace sessionscope
