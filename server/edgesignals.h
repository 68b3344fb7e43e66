#pragma once

#include "net/result.h"
#include "server/wirejson.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>

#include <optional>
#include <string>

namespace sessionscope {

// What the edge proxy sees of one request that the client cannot forge: the
// TCP peer, and the request headers (trusted only as far as the layer in front
// of the proxy sets them, e.g. a CDN's bot score).
struct EdgeRequestFacts
{
    QHostAddress clientAddress;
    QList<QPair<QByteArray, QByteArray>> headers;

    // The last value of a header, case-insensitive: a CDN that appends puts its
    // own value after whatever the client sent. nullopt when absent.
    std::optional<QByteArray> header(QByteArrayView name) const;
};

// The value the edge proxy writes under its namespace key, computed per request.
// Built from `--signals`: either `static:JSON` (that value on every request) or
// a JSON file
//
//   {"static":       {"edge": "eu-1"},                      copied as is
//    "fromHeaders":  {"country": "cf-ipcountry",            a header's text
//                     "botScore": {"header": "x-bot-score",  or converted:
//                                  "type": "number"}},      string|number|integer|boolean
//    "clientAddress": "ip"}                                 key for the TCP peer address
//
// which yields an object: the static keys, then one key per header (null when
// the header is absent or does not convert), then the client address. Unknown
// keys and a key set twice are errors, so a typo is not a silently missing signal.
class EdgeSignals
{
public:
    enum class HeaderType : quint8 { String, Number, Integer, Boolean };

    struct HeaderSignal
    {
        std::string key;
        QByteArray header; // lower case
        HeaderType type = HeaderType::String;
    };

    // The static value {} (what a default-constructed config carries).
    EdgeSignals() = default;

    // `static:JSON` or the path of a signals file.
    static Result<EdgeSignals> fromSpec(const QString &spec);
    // The signals file's text.
    static Result<EdgeSignals> fromJson(QByteArrayView text);
    // The same value on every request.
    static EdgeSignals fixed(Json value);

    Json valueFor(const EdgeRequestFacts &facts) const;

    // One line for the startup log: "static {...}" or the keys and their sources.
    QString describe() const;

    static constexpr qint64 MaxFileBytes = 64 * 1024;

private:
    std::optional<Json> m_fixed;
    Json m_static = Json::object();
    QList<HeaderSignal> m_headers;
    std::string m_addressKey;
};

} // namespace sessionscope
