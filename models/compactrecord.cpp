#include "models/compactrecord.h"

#include <QtEndian>

#include <cstring>

namespace sessionscope::compactheaders {

namespace {

constexpr qsizetype LengthBytes = 4;

void appendLength(QByteArray &out, quint32 length)
{
    char bytes[LengthBytes];
    qToLittleEndian(length, bytes);
    out.append(bytes, LengthBytes);
}

// Walks the encoded headers; stops quietly at a truncated entry, which only a
// bug in append() could produce.
template <typename Visit>
void walk(QByteArrayView encoded, Visit visit)
{
    qsizetype at = 0;
    while (encoded.size() - at >= 2 * LengthBytes) {
        const quint32 nameLength = qFromLittleEndian<quint32>(encoded.data() + at);
        const quint32 valueLength = qFromLittleEndian<quint32>(encoded.data() + at + LengthBytes);
        at += 2 * LengthBytes;
        if (qsizetype(nameLength) + qsizetype(valueLength) > encoded.size() - at)
            return;
        const QByteArrayView name = encoded.sliced(at, nameLength);
        const QByteArrayView value = encoded.sliced(at + nameLength, valueLength);
        at += qsizetype(nameLength) + qsizetype(valueLength);
        if (!visit(name, value))
            return;
    }
}

} // namespace

void append(QByteArray &out, const QList<StreamHeader> &headers)
{
    for (const StreamHeader &h : headers) {
        appendLength(out, quint32(h.first.size()));
        appendLength(out, quint32(h.second.size()));
        out.append(h.first);
        out.append(h.second);
    }
}

QList<StreamHeader> decode(QByteArrayView encoded)
{
    QList<StreamHeader> out;
    walk(encoded, [&out](QByteArrayView name, QByteArrayView value) {
        out.append({name.toByteArray(), value.toByteArray()});
        return true;
    });
    return out;
}

std::optional<QByteArray> find(QByteArrayView encoded, QByteArrayView name)
{
    std::optional<QByteArray> found;
    walk(encoded, [&](QByteArrayView n, QByteArrayView value) {
        if (n != name)
            return true;
        found = value.toByteArray();
        return false;
    });
    return found;
}

qsizetype payloadSize(QByteArrayView encoded)
{
    qsizetype size = 0;
    walk(encoded, [&size](QByteArrayView name, QByteArrayView value) {
        size += name.size() + value.size();
        return true;
    });
    return size;
}

qsizetype payloadSize(const QList<StreamHeader> &headers)
{
    qsizetype size = 0;
    for (const StreamHeader &h : headers)
        size += h.first.size() + h.second.size();
    return size;
}

} // namespace sessionscope::compactheaders
