#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>

#include <optional>

namespace sessionscope {

// Which of a session's two durable streams a record belongs to.
enum class Channel : quint8 { In, Out };

// Told apart by headers (protocol.md, "Subscribe"): data has no headers,
// control has ["trigger-control", subtype], command has ["", op].
enum class RecordKind : quint8 { Data, Control, Command };

using StreamHeader = QPair<QByteArray, QByteArray>;

// One S2 record as it travels on the wire. The body is kept exactly as the
// server sent it (the JSON string value, unescaped); decoding the chunk inside
// is a separate step so a record can be held cheaply and decoded on demand.
struct StreamRecord
{
    qint64 seqNum = -1;
    qint64 timestamp = 0; // ms since the epoch
    RecordKind kind = RecordKind::Data;
    QList<StreamHeader> headers;
    QByteArray body;

    std::optional<QByteArray> header(QByteArrayView name) const
    {
        for (const auto &h : headers) {
            if (h.first == name)
                return h.second;
        }
        return std::nullopt;
    }

    // The control subtype ("turn-complete", "upgrade-required") or the command
    // op ("trim"); empty for data records.
    QByteArray subtype() const
    {
        if (kind == RecordKind::Data || headers.isEmpty())
            return {};
        return headers.first().second;
    }

    static RecordKind kindFromHeaders(const QList<StreamHeader> &headers)
    {
        if (headers.isEmpty())
            return RecordKind::Data;
        if (headers.first().first.isEmpty())
            return RecordKind::Command;
        return RecordKind::Control;
    }
};

// "data", "control", "command" and "in", "out": the names the CLI prints and
// the record views show.
inline const char *recordKindName(RecordKind kind)
{
    switch (kind) {
    case RecordKind::Data:
        return "data";
    case RecordKind::Control:
        return "control";
    case RecordKind::Command:
        return "command";
    }
    return "";
}

inline const char *channelName(Channel channel)
{
    return channel == Channel::In ? "in" : "out";
}

// Header names and subtypes of control records (protocol.md, "Subscribe").
namespace controlheader {
inline constexpr char TriggerControl[] = "trigger-control";
inline constexpr char PublicAccessToken[] = "public-access-token";
inline constexpr char SessionInEventId[] = "session-in-event-id";
inline constexpr char TurnComplete[] = "turn-complete";
inline constexpr char UpgradeRequired[] = "upgrade-required";
} // namespace controlheader

// The last `.in` seq the agent consumed, as sent (a decimal string); only on
// control records.
inline std::optional<QByteArray> sessionInEventId(const StreamRecord &record)
{
    if (record.kind != RecordKind::Control)
        return std::nullopt;
    return record.header(controlheader::SessionInEventId);
}

// The refreshed token a turn-complete may carry. A secret: never log it.
inline std::optional<QByteArray> publicAccessToken(const StreamRecord &record)
{
    if (record.kind != RecordKind::Control)
        return std::nullopt;
    return record.header(controlheader::PublicAccessToken);
}

// `tail.seq_num` is the next seq the server will write.
struct StreamTail
{
    qint64 seqNum = 0;
    qint64 timestamp = 0;
};

} // namespace sessionscope
