// libFuzzer target: the embedded server's request-body parsing, without an
// HTTP server: the JSON body (HttpExchange::parseJsonBody and its depth
// limit), the create / PATCH / close / end-and-continue schemas
// (SessionsRoutes + BodyValidator), and what an append stores (the
// X-Part-Id and X-Record-Headers checks and the record body it wraps). The
// first byte picks the route; the rest is the request body.
// Invariants: every body yields a value or an error value, never a crash. A
// parsed body dumped and parsed again is equal. A body the schema accepts,
// written back from what was read and read again, reads the same (so what
// is stored is what a client would get back). An append's record body is
// JSON that the client's decoder reads back to the appended text and part id.
#include "net/chunkbody.h"
#include "server/bodyvalidator.h"
#include "server/channelroutes.h"
#include "server/httpexchange.h"
#include "server/sessionsroutes.h"
#include "server/wirejson.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace sessionscope;

namespace {

void check(bool invariant)
{
    if (!invariant)
        abort();
}

std::optional<Json> parsedBody(QByteArrayView body)
{
    const Result<Json> parsed = HttpExchange::parseJsonBody(body);
    if (!parsed) {
        check(parsed.error().httpStatus == 400 && !parsed.error().message.isEmpty());
        return std::nullopt;
    }
    // Re-serialised and re-parsed, the same value; dumping is then a fixed point.
    const QByteArray text = wirejson::dump(*parsed);
    const auto again = wirejson::parse(text);
    check(again && *again == *parsed);
    check(wirejson::dump(*again) == text);
    return *parsed;
}

void checkVerdict(const BodyValidator &v)
{
    if (!v.ok())
        check(v.message().startsWith(QLatin1String("Validation error: ")) &&
              v.message().size() > 18);
}

Json parsedOrNull(const std::optional<QByteArray> &text)
{
    if (!text)
        return Json();
    const auto json = wirejson::parse(*text);
    check(json.has_value());
    return *json;
}

bool sameParams(const CreateSessionParams &a, const CreateSessionParams &b)
{
    return a.type == b.type && a.taskIdentifier == b.taskIdentifier && a.externalId == b.externalId &&
           a.triggerConfig == b.triggerConfig && a.tags == b.tags && a.metadata == b.metadata &&
           a.expiresAt == b.expiresAt;
}

void create(const Json &root)
{
    BodyValidator v(root);
    const CreateSessionParams params = SessionsRoutes::readCreateBody(v, root);
    checkVerdict(v);
    if (!v.ok())
        return;
    check(!params.type.isEmpty() && params.type.size() <= 64);
    check(!params.taskIdentifier.isEmpty() && params.taskIdentifier.size() <= 128);
    check(params.tags.size() <= 10);
    const Json triggerConfig = parsedOrNull(params.triggerConfig);
    check(triggerConfig.is_object() && triggerConfig.contains("basePayload"));
    if (params.metadata)
        check(parsedOrNull(params.metadata).is_object());

    Json written = Json::object();
    written["type"] = params.type.toStdString();
    written["taskIdentifier"] = params.taskIdentifier.toStdString();
    if (params.externalId)
        written["externalId"] = params.externalId->toStdString();
    written["triggerConfig"] = triggerConfig;
    if (!params.tags.isEmpty())
        written["tags"] = wirejson::stringArray(params.tags);
    if (params.metadata)
        written["metadata"] = parsedOrNull(params.metadata);
    if (params.expiresAt)
        written["expiresAt"] = *params.expiresAt;
    const auto reread = parsedBody(wirejson::dump(written));
    check(reread.has_value());
    BodyValidator again(*reread);
    const CreateSessionParams second = SessionsRoutes::readCreateBody(again, *reread);
    check(again.ok());
    check(sameParams(second, params));
}

void update(const Json &root)
{
    BodyValidator v(root);
    const SessionsRoutes::UpdateBody body = SessionsRoutes::readUpdateBody(v, root);
    checkVerdict(v);
    if (!v.ok())
        return;
    Json written = Json::object();
    if (body.patch.tags)
        written["tags"] = wirejson::stringArray(*body.patch.tags);
    if (body.patch.metadata)
        written["metadata"] = parsedOrNull(*body.patch.metadata);
    if (body.externalId)
        written["externalId"] = *body.externalId ? Json(body.externalId->value().toStdString()) : Json();
    const auto reread = parsedBody(wirejson::dump(written));
    check(reread.has_value());
    BodyValidator again(*reread);
    const SessionsRoutes::UpdateBody second = SessionsRoutes::readUpdateBody(again, *reread);
    check(again.ok());
    check(second.patch.tags == body.patch.tags && second.patch.metadata == body.patch.metadata &&
          second.externalId == body.externalId);
}

void closeOrEnd(const Json &root, bool close)
{
    BodyValidator v(root);
    if (close) {
        const auto reason = SessionsRoutes::readCloseBody(v, root);
        check(!reason || reason->size() <= 256);
    } else {
        (void)v.string(root, "callingRunId", QStringLiteral("callingRunId"), true);
        (void)v.string(root, "reason", QStringLiteral("reason"), true, 0, 64);
    }
    checkVerdict(v);
}

void append(QByteArrayView input, Channel channel)
{
    // The part id is the first line, the appended text the rest.
    const qsizetype newline = input.indexOf('\n');
    const QByteArrayView partId = newline < 0 ? QByteArrayView("p1") : input.first(newline);
    const QByteArrayView text = newline < 0 ? input : input.sliced(newline + 1);
    if (!ChannelRoutes::validPartId(partId))
        return;
    const QByteArray body = ChannelRoutes::appendRecordBody(text, channel, partId);
    const auto stored = wirejson::parse(body);
    check(stored && stored->is_object() && stored->size() == 2);
    check((*stored)["id"] == partId.toByteArray().toStdString());
    const std::string &data = (*stored)["data"].get_ref<const std::string &>();
    const QByteArray sanitized = wirejson::sanitizedUtf8(text);
    if (channel == Channel::Out || !sanitized.contains("\"actionSource\""))
        check(QByteArrayView(data.data(), qsizetype(data.size())) == sanitized);
    check(wirejson::isValidUtf8(body));
    // The client reads it back: the same part id, and a JSON object inside
    // decodes as the `.in` chunk it is.
    const Result<BodyInfo> info = decodeBodyInfo(body, 1);
    if (info) {
        check(info->partId == partId && info->dataWasString);
    } else {
        // The wrapper itself is always sound: only the chunk inside may be refused.
        const QString &why = info.error().message;
        check(why.contains(QLatin1String(".in data string")) || why.contains(QLatin1String("chunk")));
    }
}

void recordHeaders(QByteArrayView text)
{
    const auto headers = ChannelRoutes::parseRecordHeaders(text);
    if (!headers)
        return;
    const auto parsed = wirejson::parse(text);
    check(parsed && parsed->is_array() && qsizetype(parsed->size()) == headers->size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const QByteArrayView body(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    switch (data[0] % 7) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
        if (const auto root = parsedBody(body)) {
            switch (data[0] % 7) {
            case 0:
                create(*root);
                break;
            case 1:
                update(*root);
                break;
            case 2:
                closeOrEnd(*root, true);
                break;
            case 3:
                closeOrEnd(*root, false);
                break;
            default:
                (void)wirejson::parseDate(*root);
                break;
            }
        }
        break;
    case 5:
        append(body, data[0] & 0x80 ? Channel::Out : Channel::In);
        break;
    default:
        recordHeaders(body);
        break;
    }
    return 0;
}
