#include "server/agent/agentversion.h"

#include <QJsonArray>
#include <QRegularExpression>
#include <QStringList>

#include <cmath>

namespace sessionscope {

namespace {

Error fieldError(const QString &field, const QString &what)
{
    return Error::make(QStringLiteral("%1 %2").arg(field, what));
}

// Rejects keys the format does not know, naming the first one.
Result<void> onlyKnownKeys(const QJsonObject &object, const QString &where, std::initializer_list<const char *> known)
{
    for (auto it = object.begin(); it != object.end(); ++it) {
        bool found = false;
        for (const char *k : known) {
            if (it.key() == QLatin1String(k)) {
                found = true;
                break;
            }
        }
        if (!found)
            return Error::make(QStringLiteral("unknown key \"%1\" in %2").arg(it.key(), where));
    }
    return {};
}

// An optional key holding one of two names: {"ignore", Ignore}, {"pin-first", PinFirst}.
template <typename Enum>
Result<void> parseChoice(const QJsonObject &o, const char *key, std::initializer_list<std::pair<const char *, Enum>> choices,
                         Enum *out)
{
    const QJsonValue value = o.value(QLatin1String(key));
    if (value.isUndefined())
        return {};
    QStringList names;
    for (const auto &[name, e] : choices) {
        if (value == QLatin1String(name)) {
            *out = e;
            return {};
        }
        names << QStringLiteral("\"%1\"").arg(QLatin1String(name));
    }
    return fieldError(QLatin1String(key), QStringLiteral("must be ") + names.join(QLatin1String(" or ")));
}

bool isIdentifier(const QString &s, int maxLength)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_.-]+$"));
    return !s.isEmpty() && s.size() <= maxLength && re.match(s).hasMatch();
}

Result<AgentToolCall> toolFromJson(const QJsonValue &value)
{
    if (!value.isObject())
        return Error::make(QStringLiteral("reply.tool must be an object {name, input?, output?, needsApproval?}"));
    const QJsonObject o = value.toObject();
    if (auto known = onlyKnownKeys(o, QStringLiteral("reply.tool"), {"name", "input", "output", "needsApproval"}); !known)
        return known.error();
    AgentToolCall tool;
    tool.name = o.value(QLatin1String("name")).toString();
    if (!isIdentifier(tool.name, 64))
        return fieldError(QStringLiteral("reply.tool.name"), QStringLiteral("must be 1..64 of [A-Za-z0-9_.-]"));
    if (o.contains(QLatin1String("input")))
        tool.input = o.value(QLatin1String("input"));
    if (o.contains(QLatin1String("output")))
        tool.output = o.value(QLatin1String("output"));
    const QJsonValue approval = o.value(QLatin1String("needsApproval"));
    if (!approval.isUndefined() && !approval.isBool())
        return fieldError(QStringLiteral("reply.tool.needsApproval"), QStringLiteral("must be a boolean"));
    tool.needsApproval = approval.toBool(false);
    return tool;
}

Result<AgentReplyBehaviour> replyFromJson(const QJsonValue &value)
{
    if (!value.isObject())
        return Error::make(QStringLiteral("reply must be an object {mode, text?, script?, chunksPerSecond?, reasoning?, tool?}"));
    const QJsonObject o = value.toObject();
    if (auto known = onlyKnownKeys(o, QStringLiteral("reply"),
                                   {"mode", "text", "script", "chunksPerSecond", "reasoning", "tool"});
        !known) {
        return known.error();
    }
    AgentReplyBehaviour reply;
    const QJsonValue mode = o.value(QLatin1String("mode"));
    if (!mode.isUndefined()) {
        const auto m = AgentReplyBehaviour::modeFromName(mode.toString());
        if (!mode.isString() || !m)
            return fieldError(QStringLiteral("reply.mode"), QStringLiteral("must be one of echo, fixed, scripted"));
        reply.mode = *m;
    }
    const QJsonValue text = o.value(QLatin1String("text"));
    if (!text.isUndefined() && !text.isString())
        return fieldError(QStringLiteral("reply.text"), QStringLiteral("must be a string"));
    reply.text = text.toString();
    const QJsonValue script = o.value(QLatin1String("script"));
    if (!script.isUndefined()) {
        if (!script.isArray())
            return fieldError(QStringLiteral("reply.script"), QStringLiteral("must be an array of strings"));
        for (const QJsonValue &line : script.toArray()) {
            if (!line.isString() || line.toString().isEmpty())
                return fieldError(QStringLiteral("reply.script"), QStringLiteral("must hold non-empty strings only"));
            reply.script << line.toString();
        }
    }
    if (reply.mode == AgentReplyBehaviour::Mode::Fixed && reply.text.isEmpty())
        return fieldError(QStringLiteral("reply.text"), QStringLiteral("is required for mode fixed"));
    if (reply.mode == AgentReplyBehaviour::Mode::Scripted && reply.script.isEmpty())
        return fieldError(QStringLiteral("reply.script"), QStringLiteral("needs at least one line for mode scripted"));
    const QJsonValue rate = o.value(QLatin1String("chunksPerSecond"));
    if (!rate.isUndefined()) {
        const double r = rate.toDouble(-1);
        if (!rate.isDouble() || !std::isfinite(r) || r < 0 || r > 10000)
            return fieldError(QStringLiteral("reply.chunksPerSecond"), QStringLiteral("must be a number in 0..10000 (0: no pacing)"));
        reply.chunksPerSecond = r;
    }
    const QJsonValue reasoning = o.value(QLatin1String("reasoning"));
    if (reasoning.isString())
        reply.reasoning = reasoning.toString();
    else if (reasoning.isBool())
        reply.reasoning = reasoning.toBool() ? std::optional<QString>(QString()) : std::nullopt;
    else if (!reasoning.isUndefined() && !reasoning.isNull())
        return fieldError(QStringLiteral("reply.reasoning"), QStringLiteral("must be a string or a boolean"));
    if (o.contains(QLatin1String("tool")) && !o.value(QLatin1String("tool")).isNull()) {
        auto tool = toolFromJson(o.value(QLatin1String("tool")));
        if (!tool)
            return tool.error();
        reply.tool = std::move(tool.value());
    }
    return reply;
}

QJsonObject replyToJson(const AgentReplyBehaviour &reply)
{
    QJsonObject o{{QStringLiteral("mode"), AgentReplyBehaviour::modeName(reply.mode)},
                  {QStringLiteral("chunksPerSecond"), reply.chunksPerSecond}};
    if (!reply.text.isEmpty())
        o.insert(QStringLiteral("text"), reply.text);
    if (!reply.script.isEmpty())
        o.insert(QStringLiteral("script"), QJsonArray::fromStringList(reply.script));
    if (reply.reasoning) {
        // An empty text means "derive it from the question": the file says true.
        o.insert(QStringLiteral("reasoning"),
                 reply.reasoning->isEmpty() ? QJsonValue(true) : QJsonValue(*reply.reasoning));
    }
    if (reply.tool) {
        o.insert(QStringLiteral("tool"), QJsonObject{{QStringLiteral("name"), reply.tool->name},
                                                     {QStringLiteral("input"), reply.tool->input},
                                                     {QStringLiteral("output"), reply.tool->output},
                                                     {QStringLiteral("needsApproval"), reply.tool->needsApproval}});
    }
    return o;
}

} // namespace

QString AgentReplyBehaviour::modeName(Mode mode)
{
    switch (mode) {
    case Mode::Echo: return QStringLiteral("echo");
    case Mode::Fixed: return QStringLiteral("fixed");
    case Mode::Scripted: return QStringLiteral("scripted");
    }
    return {};
}

std::optional<AgentReplyBehaviour::Mode> AgentReplyBehaviour::modeFromName(QStringView name)
{
    for (Mode m : {Mode::Echo, Mode::Fixed, Mode::Scripted}) {
        if (name == modeName(m))
            return m;
    }
    return std::nullopt;
}

QString AgentVersion::policyName(AppVersionPolicy policy)
{
    return policy == AppVersionPolicy::PinFirst ? QStringLiteral("pin-first") : QStringLiteral("ignore");
}

QString AgentVersion::upgradeFromName(UpgradeFrom from)
{
    return from == UpgradeFrom::InRun ? QStringLiteral("in-run") : QStringLiteral("turn-start");
}

bool AgentVersion::isValidLabel(QStringView label)
{
    return isIdentifier(label.toString(), 64);
}

std::optional<std::pair<QString, int>> AgentVersion::splitDatedLabel(QStringView label)
{
    static const QRegularExpression re(QStringLiteral("^(\\d{8})\\.(\\d{1,9})$"));
    const auto m = re.match(label);
    if (!m.hasMatch())
        return std::nullopt;
    return std::make_pair(m.captured(1), m.captured(2).toInt());
}

QJsonObject AgentVersion::toJson() const
{
    QJsonObject o{{QStringLiteral("task"), task},
                  {QStringLiteral("label"), label},
                  {QStringLiteral("supportedProtocolVersions"), QJsonArray::fromStringList(supportedProtocolVersions)},
                  {QStringLiteral("appVersionPolicy"), policyName(appVersionPolicy)},
                  {QStringLiteral("clientDataSchema"), clientDataSchema.toJson()},
                  {QStringLiteral("reply"), replyToJson(reply)},
                  {QStringLiteral("idleTimeoutInSeconds"), idleTimeoutInSeconds},
                  {QStringLiteral("upgradeFrom"), upgradeFromName(upgradeFrom)}};
    if (!description.isEmpty())
        o.insert(QStringLiteral("description"), description);
    if (deployedAt.isValid())
        o.insert(QStringLiteral("deployedAt"), deployedAt.toUTC().toString(Qt::ISODateWithMs));
    if (!builtin.isEmpty())
        o.insert(QStringLiteral("builtin"), builtin);
    return o;
}

Result<AgentVersion> AgentVersion::fromJson(const QJsonObject &o)
{
    if (auto known = onlyKnownKeys(o, QStringLiteral("the version"),
                                   {"task", "label", "description", "supportedProtocolVersions", "appVersionPolicy",
                                    "clientDataSchema", "reply", "idleTimeoutInSeconds", "upgradeFrom", "deployedAt",
                                    "builtin"});
        !known) {
        return known.error();
    }
    AgentVersion v;
    const auto optionalString = [&o](const char *key, QString *out) -> Result<void> {
        const QJsonValue value = o.value(QLatin1String(key));
        if (value.isUndefined() || value.isNull())
            return {};
        if (!value.isString())
            return fieldError(QLatin1String(key), QStringLiteral("must be a string"));
        *out = value.toString();
        return {};
    };
    for (auto [key, out] : {std::pair{"task", &v.task}, std::pair{"label", &v.label},
                            std::pair{"description", &v.description}, std::pair{"builtin", &v.builtin}}) {
        if (auto r = optionalString(key, out); !r)
            return r.error();
    }
    if (!v.task.isEmpty() && v.task.size() > 128)
        return fieldError(QStringLiteral("task"), QStringLiteral("must be at most 128 characters"));
    if (!v.label.isEmpty() && !isValidLabel(v.label))
        return fieldError(QStringLiteral("label"), QStringLiteral("must be 1..64 of [A-Za-z0-9._-] (e.g. 20261121.3)"));

    const QJsonValue protocols = o.value(QLatin1String("supportedProtocolVersions"));
    if (!protocols.isUndefined()) {
        if (!protocols.isArray())
            return fieldError(QStringLiteral("supportedProtocolVersions"), QStringLiteral("must be an array of strings"));
        for (const QJsonValue &p : protocols.toArray()) {
            if (!p.isString() || p.toString().isEmpty() || p.toString().size() > 64)
                return fieldError(QStringLiteral("supportedProtocolVersions"),
                                  QStringLiteral("must hold strings of 1..64 characters"));
            if (!v.supportedProtocolVersions.contains(p.toString()))
                v.supportedProtocolVersions << p.toString();
        }
    }

    if (auto r = parseChoice(o, "appVersionPolicy", {{"ignore", AppVersionPolicy::Ignore}, {"pin-first", AppVersionPolicy::PinFirst}},
                             &v.appVersionPolicy);
        !r) {
        return r.error();
    }

    if (o.contains(QLatin1String("clientDataSchema"))) {
        auto schema = ClientDataSchema::fromJson(o.value(QLatin1String("clientDataSchema")));
        if (!schema)
            return schema.error();
        v.clientDataSchema = std::move(schema.value());
    }

    if (o.contains(QLatin1String("reply"))) {
        auto reply = replyFromJson(o.value(QLatin1String("reply")));
        if (!reply)
            return reply.error();
        v.reply = std::move(reply.value());
    }

    const QJsonValue idle = o.value(QLatin1String("idleTimeoutInSeconds"));
    if (!idle.isUndefined()) {
        const double d = idle.toDouble(-1);
        if (!idle.isDouble() || std::floor(d) != d || d < 1 || d > 3600)
            return fieldError(QStringLiteral("idleTimeoutInSeconds"), QStringLiteral("must be an integer in 1..3600"));
        v.idleTimeoutInSeconds = int(d);
    }

    if (auto r = parseChoice(o, "upgradeFrom", {{"turn-start", UpgradeFrom::TurnStart}, {"in-run", UpgradeFrom::InRun}},
                             &v.upgradeFrom);
        !r) {
        return r.error();
    }

    const QJsonValue deployedAt = o.value(QLatin1String("deployedAt"));
    if (deployedAt.isString()) {
        v.deployedAt = QDateTime::fromString(deployedAt.toString(), Qt::ISODateWithMs);
        if (!v.deployedAt.isValid())
            return fieldError(QStringLiteral("deployedAt"), QStringLiteral("must be an ISO 8601 date"));
    }
    return v;
}

} // namespace sessionscope
