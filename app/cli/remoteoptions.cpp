#include "app/cli/remoteoptions.h"

#include "app/cli/cliverb.h"
#include "app/cli/serverargs.h"
#include "net/profilestore.h"

#include <QJsonDocument>

#include <chrono>
#include <cstdio>

namespace sessionscope {

namespace {

QString firstSet(std::initializer_list<const char *> names)
{
    for (const char *name : names) {
        const QString value = qEnvironmentVariable(name);
        if (!value.isEmpty())
            return value;
    }
    return {};
}

} // namespace

std::optional<RemoteOptions> RemoteOptions::take(const char *verb, QStringList &args, int *status)
{
    *status = ExitUsage;
    bool missing = false;
    const auto server = takeOption(args, QStringLiteral("--server"), &missing);
    const auto key = takeOption(args, QStringLiteral("--key"), &missing);
    const auto profileName = takeOption(args, QStringLiteral("--profile"), &missing);
    QStringList endpoints;
    while (const auto e = takeOption(args, QStringLiteral("--endpoint"), &missing))
        endpoints.append(*e);
    if (missing) {
        usageError(verb, QStringLiteral("--server, --key, --profile and --endpoint need a value"));
        return std::nullopt;
    }
    RemoteOptions out;
    out.table = takeFlag(args, QStringLiteral("--table"));
    // Per-endpoint base URLs on top of whichever profile was chosen.
    const auto withEndpoints = [&](RemoteOptions options) -> std::optional<RemoteOptions> {
        for (const QString &e : std::as_const(endpoints)) {
            if (const auto why = applyEndpointOption(options.profile, e)) {
                usageError(verb, *why);
                return std::nullopt;
            }
        }
        if (auto valid = options.profile.validate(); !valid) {
            usageError(verb, valid.error().message);
            return std::nullopt;
        }
        *status = ExitOk;
        return options;
    };

    if (profileName && !server) {
        // Problems with the local profiles are the caller's to fix: usage errors.
        ProfileStore store;
        if (auto loaded = store.load(); !loaded) {
            usageError(verb, loaded.error().message);
            return std::nullopt;
        }
        std::optional<Result<ConnectionProfile>> resolved;
        QObject context;
        runUntilFinished(
            [&](const std::function<void(int)> &finish) {
                store.resolve(*profileName, &context, [&resolved, finish](Result<ConnectionProfile> p) {
                    resolved = std::move(p);
                    finish(ExitOk);
                });
            },
            std::chrono::seconds(30), ExitInputErrors);
        if (!resolved) {
            usageError(verb, QStringLiteral("the keychain did not answer"));
            return std::nullopt;
        }
        if (!*resolved) {
            // A profile without a stored key is still usable with --key.
            const auto plain = store.profile(*profileName);
            if (!plain || !key) {
                usageError(verb, resolved->error().message);
                return std::nullopt;
            }
            out.profile = *plain;
        } else {
            out.profile = resolved->value();
        }
        if (key)
            out.profile.secretKey = *key;
        return withEndpoints(std::move(out));
    }

    const QString url = server.value_or(firstSet({"SESSIONSCOPE_SERVER", "SESSIONSCOPE_URL"}));
    const QString secret = key.value_or(firstSet({"SESSIONSCOPE_KEY", "SESSIONSCOPE_SECRET_KEY"}));
    if (url.isEmpty()) {
        usageError(verb, QStringLiteral("no server: pass --server URL or --profile NAME, or set SESSIONSCOPE_SERVER"));
        return std::nullopt;
    }
    if (secret.isEmpty()) {
        usageError(verb, QStringLiteral("no key: pass --key KEY or set SESSIONSCOPE_KEY"));
        return std::nullopt;
    }
    const QUrl parsed(url);
    out.profile = parsed.host() == u"api.trigger.dev" ? ConnectionProfile::cloud()
                                                      : ConnectionProfile::selfHosted(QStringLiteral("cli"), parsed);
    out.profile.baseUrl = parsed;
    out.profile.secretKey = secret;
    if (auto valid = out.profile.validate(); !valid) {
        usageError(verb, QStringLiteral("--server: %1").arg(valid.error().message));
        return std::nullopt;
    }
    return withEndpoints(std::move(out));
}

std::optional<RemoteOptions> RemoteOptions::start(const char *verb, const char *help, QStringList &args, int *status)
{
    if (takeFlag(args, QStringLiteral("--help")) || takeFlag(args, QStringLiteral("-h"))) {
        std::fputs(QString::fromLatin1(help).arg(QLatin1String(Help)).toLocal8Bit().constData(), stdout);
        *status = ExitOk;
        return std::nullopt;
    }
    return take(verb, args, status);
}

std::optional<QString> applyEndpointOption(ConnectionProfile &profile, const QString &spec)
{
    const qsizetype eq = spec.indexOf(QLatin1Char('='));
    const auto family = eq > 0 ? ConnectionProfile::familyFromName(QStringView(spec).left(eq)) : std::nullopt;
    if (!family) {
        return QStringLiteral("--endpoint is FAMILY=URL with FAMILY one of sessions, in, out, auth; got \"%1\"")
            .arg(spec);
    }
    profile.endpointOverrides.insert(*family, QUrl(spec.mid(eq + 1)));
    return std::nullopt;
}

int reportFailure(const Error &error)
{
    QJsonObject line{{QStringLiteral("error"), error.message}};
    if (error.httpStatus > 0)
        line.insert(QStringLiteral("httpStatus"), error.httpStatus);
    if (error.seq >= 0)
        line.insert(QStringLiteral("seq"), double(error.seq));
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", QJsonDocument(line).toJson(QJsonDocument::Compact).constData());
    std::fflush(stderr);
    return error.httpStatus == 0 ? ExitNetwork : ExitInputErrors;
}

void printJson(const QJsonObject &object)
{
    std::fprintf(stdout, "%s\n", QJsonDocument(object).toJson(QJsonDocument::Compact).constData());
    std::fflush(stdout);
}

std::optional<QJsonObject> parseJsonObjectOption(const char *verb, const char *option, const QString &text,
                                                 int *status)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject()) {
        *status = usageError(verb, QStringLiteral("%1 must be a JSON object%2")
                                       .arg(QLatin1String(option),
                                            error.error != QJsonParseError::NoError
                                                ? QStringLiteral(" (%1 at offset %2)").arg(error.errorString()).arg(error.offset)
                                                : QString()));
        return std::nullopt;
    }
    return doc.object();
}

} // namespace sessionscope
