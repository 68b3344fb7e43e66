#pragma once

#include <QList>
#include <QMap>
#include <QWidget>

namespace sessionscope {

struct RecordBatch;

// A strip under the session: `.out` chunks per second as bars, turn ends as
// ticks, the time to first chunk of each turn, and upgrades marked. Fed with
// the decoded batches (kinds and timestamps only, no body is read).
class TimelineStrip : public QWidget
{
    Q_OBJECT

public:
    // Older seconds scroll off the strip.
    static constexpr qint64 WindowSeconds = 600;

    struct Turn
    {
        qint64 sentAtMs = 0;       // the `.in` message that opened it (0: not seen)
        qint64 firstChunkMs = 0;   // its first `.out` data record
        qint64 completedAtMs = 0;  // its turn-complete
    };

    explicit TimelineStrip(QWidget *parent = nullptr);

    void observe(const RecordBatch &batch);
    void clear();

    const QList<Turn> &turns() const { return m_turns; }
    const QList<qint64> &upgrades() const { return m_upgrades; }
    qint64 chunkCount() const { return m_chunks; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QMap<qint64, int> m_perSecond; // second since epoch -> `.out` data records
    QList<Turn> m_turns;
    QList<qint64> m_upgrades; // server ms of upgrade-required records
    qint64 m_pendingSendMs = 0;
    bool m_inTurn = false;
    qint64 m_chunks = 0;
};

} // namespace sessionscope
