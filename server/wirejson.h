#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <optional>

namespace sessionscope {

// Responses keep the key order of the real API, so the server builds them as
// ordered JSON.
using Json = nlohmann::ordered_json;

// JSON text helpers for the wire: quoting exactly like JavaScript's
// JSON.stringify, ISO dates with milliseconds, and conversions between the
// stored JSON text and Qt's JSON types for in-process callers.
namespace wirejson {

// What to do with bytes that are not UTF-8.
enum class InvalidUtf8 : quint8 {
    Replace, // U+FFFD per maximal invalid subpart (what TextDecoder does)
    Latin1,  // each invalid byte becomes \u00XX (opaque bodies such as trim commands)
};

// Appends `bytes` as a quoted JSON string.
void appendQuoted(QByteArray &out, QByteArrayView bytes, InvalidUtf8 mode = InvalidUtf8::Replace);
QByteArray quoted(QByteArrayView bytes, InvalidUtf8 mode = InvalidUtf8::Replace);

// `bytes` with invalid UTF-8 replaced by U+FFFD (a no-op copy when valid).
QByteArray sanitizedUtf8(QByteArrayView bytes);
bool isValidUtf8(QByteArrayView bytes);

// "2026-11-21T10:00:00.000Z".
QByteArray isoDate(qint64 msSinceEpoch);
// ISO 8601 text or a number of ms, as `z.coerce.date()` takes them.
std::optional<qint64> parseDate(const Json &value);

// Compact text; invalid UTF-8 inside strings is replaced instead of throwing.
QByteArray dump(const Json &value);
// The deepest nesting parse() accepts. Dumping and copying a Json recurse
// once per level, so a 1 MiB body of '[' would overflow the stack; 1024 is
// also where Qt's QJsonDocument (the agent's parser) stops, so the two agree
// on what is JSON.
inline constexpr int MaxDepth = 1024;

// nullopt when `text` is not JSON or nests deeper than MaxDepth.
std::optional<Json> parse(QByteArrayView text);

QJsonObject toQt(const Json &object);
Json fromQt(const QJsonObject &object);

Json stringArray(const QStringList &list);
QStringList toStringList(const Json &array);

} // namespace wirejson

} // namespace sessionscope
