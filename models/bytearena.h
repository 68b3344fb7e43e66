#pragma once

#include <QByteArrayView>
#include <QtGlobal>

#include <deque>
#include <memory>

namespace sessionscope {

// Append-only storage for many small byte strings, dropped oldest first: one
// allocation per block instead of one per string, and whole blocks go back to
// the system when everything in them has been dropped. Block numbers never
// decrease with appends, which is what lets the owner free by block.
class ByteArena
{
public:
    static constexpr quint32 DefaultBlockSize = 1u << 20;

    struct Location
    {
        quint32 block = 0;
        quint32 offset = 0;
    };

    explicit ByteArena(quint32 blockSize = DefaultBlockSize);

    // Strings larger than a quarter block get a block of their own.
    Location append(QByteArrayView bytes);
    // Valid until the next append() or release: callers copy what they keep.
    QByteArrayView view(Location at, quint32 length) const;

    // Frees every block numbered below `block`.
    void releaseBlocksBefore(quint32 block);
    void clear();

    qint64 capacityBytes() const { return m_capacity; }
    qint64 usedBytes() const { return m_used; }
    qsizetype blockCount() const { return qsizetype(m_blocks.size()); }
    quint32 blockSize() const { return m_blockSize; }

private:
    struct Block
    {
        std::unique_ptr<char[]> data;
        quint32 used = 0;
        quint32 capacity = 0;
    };

    void openBlock(quint32 capacity);
    void closeBlock();
    quint32 lastBlockNumber() const;

    std::deque<Block> m_blocks;
    quint32 m_firstBlock = 0; // the number of m_blocks.front()
    bool m_open = false;      // the last block takes more appends
    quint32 m_blockSize;
    qint64 m_capacity = 0;
    qint64 m_used = 0;
};

} // namespace sessionscope
