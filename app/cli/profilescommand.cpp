#include "app/cli/profilescommand.h"

#include "app/cli/cliverb.h"
#include "app/cli/remoteoptions.h"
#include "app/cli/serverargs.h"
#include "app/cli/tableprinter.h"
#include "net/profilestore.h"

#include <QTextStream>

#include <cstdio>

namespace sessionscope {

namespace {

using namespace std::chrono_literals;

const char ProfilesHelp[] =
    "Usage: sessionscope-cli profiles list [--table]\n"
    "       sessionscope-cli profiles add NAME --server URL [--kind cloud|self-hosted|embedded]\n"
    "                                          [--endpoint sessions|in|out|auth=URL]...\n"
    "       sessionscope-cli profiles set-key NAME [--key KEY] [--no-keychain]\n"
    "       sessionscope-cli profiles default NAME\n"
    "       sessionscope-cli profiles remove NAME\n"
    "\n"
    "Named backends for --profile, kept in $XDG_CONFIG_HOME/sessionscope/profiles.json.\n"
    "--endpoint gives one endpoint family its own base URL (a trusted edge in front\n"
    "of `in` and `sessions`, `out` straight to the API). set-key reads the key from\n"
    "stdin when --key is not given and stores it in the system keychain, or where no\n"
    "keychain service runs, in secrets.json with mode 0600 (list says which).\n"
    "\n"
    "Exit status: 0 ok, 1 the store refused, 2 usage error.\n";

int storeError(const Error &e)
{
    std::fprintf(stderr, "sessionscope-cli profiles: %s\n", e.message.toLocal8Bit().constData());
    return ExitInputErrors;
}

int listProfiles(ProfileStore &store, bool table)
{
    if (table) {
        TablePrinter t({QStringLiteral("NAME"), QStringLiteral("KIND"), QStringLiteral("URL"),
                        QStringLiteral("KEY"), QStringLiteral("DEFAULT")}, 80);
        for (const ConnectionProfile &p : store.profiles())
            t.addRow({p.name, ConnectionProfile::kindName(p.kind), p.baseUrl.toString(),
                      ConnectionProfile::storageName(p.secretStorage),
                      p.name == store.defaultProfile() ? QStringLiteral("*") : QString()});
        t.print(stdout);
        return ExitOk;
    }
    for (const ConnectionProfile &p : store.profiles()) {
        QJsonObject line = p.toJson();
        line.insert(QStringLiteral("default"), p.name == store.defaultProfile());
        printJson(line);
    }
    return ExitOk;
}

int addProfile(ProfileStore &store, QStringList &args)
{
    bool missing = false;
    const auto server = takeOption(args, QStringLiteral("--server"), &missing);
    const auto kindText = takeOption(args, QStringLiteral("--kind"), &missing);
    QStringList endpoints;
    while (const auto e = takeOption(args, QStringLiteral("--endpoint"), &missing))
        endpoints.append(*e);
    if (missing)
        return usageError("profiles", QStringLiteral("an option is missing its value"));
    if (args.size() != 1)
        return usageError("profiles", QStringLiteral("add expects one NAME"));
    if (!server)
        return usageError("profiles", QStringLiteral("add needs --server URL"));
    const QUrl url(*server);
    const auto kind = kindText ? ConnectionProfile::kindFromName(*kindText)
                               : std::optional(url.host() == u"api.trigger.dev" ? BackendKind::Cloud
                                                                                 : BackendKind::SelfHosted);
    if (!kind)
        return usageError("profiles", QStringLiteral("--kind is cloud, self-hosted or embedded"));
    ConnectionProfile profile = ConnectionProfile::selfHosted(args.first(), url);
    profile.kind = *kind;
    for (const QString &e : std::as_const(endpoints)) {
        if (const auto why = applyEndpointOption(profile, e))
            return usageError("profiles", *why);
    }
    if (auto valid = profile.validate(); !valid)
        return usageError("profiles", valid.error().message);
    if (auto saved = store.upsert(profile); !saved)
        return storeError(saved.error());
    return ExitOk;
}

int setKey(ProfileStore &store, QStringList &args)
{
    bool missing = false;
    auto key = takeOption(args, QStringLiteral("--key"), &missing);
    if (takeFlag(args, QStringLiteral("--no-keychain")))
        store.setKeychainMode(ProfileStore::KeychainMode::Off);
    if (missing)
        return usageError("profiles", QStringLiteral("--key needs a value"));
    if (args.size() != 1)
        return usageError("profiles", QStringLiteral("set-key expects one NAME"));
    if (!key) {
        // From stdin, so the key stays out of the shell history.
        QTextStream in(stdin);
        key = in.readLine().trimmed();
    }
    std::optional<Result<SecretStorage>> stored;
    QObject context;
    runUntilFinished(
        [&](const std::function<void(int)> &finish) {
            store.storeSecretKey(args.first(), *key, &context, [&stored, finish](Result<SecretStorage> r) {
                stored = std::move(r);
                finish(ExitOk);
            });
        },
        30s, ExitInputErrors);
    if (!stored)
        return storeError(Error::make(QStringLiteral("the keychain did not answer")));
    if (!*stored)
        return storeError(stored->error());
    const auto profile = store.profile(args.first());
    QJsonObject line{{QStringLiteral("name"), args.first()},
                     {QStringLiteral("secretStorage"), ConnectionProfile::storageName(stored->value())}};
    if (profile && !profile->secretStorageNote.isEmpty())
        line.insert(QStringLiteral("note"), profile->secretStorageNote);
    printJson(line);
    return ExitOk;
}

} // namespace

int runProfilesCommand(const QStringList &arguments)
{
    QStringList args = arguments;
    if (takeFlag(args, QStringLiteral("--help")) || takeFlag(args, QStringLiteral("-h"))) {
        std::fputs(ProfilesHelp, stdout);
        return ExitOk;
    }
    if (args.isEmpty())
        return usageError("profiles", QStringLiteral("expects list, add, set-key, default or remove"));
    const QString sub = args.takeFirst();
    ProfileStore store;
    if (auto loaded = store.load(); !loaded)
        return storeError(loaded.error());
    if (sub == u"list")
        return listProfiles(store, takeFlag(args, QStringLiteral("--table")));
    if (sub == u"add")
        return addProfile(store, args);
    if (sub == u"set-key")
        return setKey(store, args);
    if (sub == u"default" || sub == u"remove") {
        if (args.size() != 1)
            return usageError("profiles", QStringLiteral("%1 expects one NAME").arg(sub));
        const auto r = sub == u"default" ? store.setDefaultProfile(args.first()) : store.remove(args.first());
        return r ? int(ExitOk) : storeError(r.error());
    }
    return usageError("profiles", QStringLiteral("unknown subcommand \"%1\"").arg(sub));
}

} // namespace sessionscope
