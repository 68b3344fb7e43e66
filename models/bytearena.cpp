#include "models/bytearena.h"

#include <cstring>

namespace sessionscope {

ByteArena::ByteArena(quint32 blockSize) : m_blockSize(qMax<quint32>(blockSize, 64)) {}

quint32 ByteArena::lastBlockNumber() const
{
    return m_blocks.empty() ? m_firstBlock : m_firstBlock + quint32(m_blocks.size()) - 1;
}

void ByteArena::openBlock(quint32 capacity)
{
    Block block;
    block.data.reset(new char[capacity]);
    block.capacity = capacity;
    m_capacity += capacity;
    m_blocks.push_back(std::move(block));
    m_open = true;
}

void ByteArena::closeBlock()
{
    if (!m_open)
        return;
    m_open = false;
    Block &last = m_blocks.back();
    // A block closed early (a large string came) would otherwise keep its
    // unused tail for as long as it lives.
    if (last.capacity - last.used > last.capacity / 4) {
        std::unique_ptr<char[]> fitted(new char[qMax<quint32>(last.used, 1)]);
        std::memcpy(fitted.get(), last.data.get(), last.used);
        m_capacity -= last.capacity - qMax<quint32>(last.used, 1);
        last.capacity = qMax<quint32>(last.used, 1);
        last.data = std::move(fitted);
    }
}

ByteArena::Location ByteArena::append(QByteArrayView bytes)
{
    const auto length = quint32(bytes.size());
    if (length == 0)
        return {lastBlockNumber(), m_blocks.empty() ? 0 : m_blocks.back().used};
    if (length > m_blockSize / 4) {
        closeBlock();
        openBlock(length);
        m_open = false; // a large string's block holds nothing else
    } else if (!m_open || m_blocks.back().capacity - m_blocks.back().used < length) {
        closeBlock();
        openBlock(m_blockSize);
    }
    Block &block = m_blocks.back();
    const Location at{lastBlockNumber(), block.used};
    std::memcpy(block.data.get() + block.used, bytes.data(), length);
    block.used += length;
    m_used += length;
    return at;
}

QByteArrayView ByteArena::view(Location at, quint32 length) const
{
    if (length == 0 || at.block < m_firstBlock || at.block - m_firstBlock >= m_blocks.size())
        return {};
    const Block &block = m_blocks[at.block - m_firstBlock];
    if (at.offset > block.used || length > block.used - at.offset)
        return {};
    return QByteArrayView(block.data.get() + at.offset, length);
}

void ByteArena::releaseBlocksBefore(quint32 block)
{
    while (!m_blocks.empty() && m_firstBlock < block) {
        if (m_blocks.size() == 1)
            m_open = false;
        m_capacity -= m_blocks.front().capacity;
        m_used -= m_blocks.front().used;
        m_blocks.pop_front();
        ++m_firstBlock;
    }
}

void ByteArena::clear()
{
    m_firstBlock = lastBlockNumber() + (m_blocks.empty() ? 0 : 1);
    m_blocks.clear();
    m_open = false;
    m_capacity = 0;
    m_used = 0;
}

} // namespace sessionscope
