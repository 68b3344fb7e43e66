#include "net/profilestore.h"
#include "ui/backendconnection.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QIcon>
#include <QTimer>

#include <cstdio>

using namespace sessionscope;

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sessionscope"));
    QApplication::setOrganizationName(QStringLiteral("sessionscope"));
    QApplication::setApplicationVersion(QStringLiteral(SESSIONSCOPE_VERSION));
    for (const char *icon : {":/sessionscope/icon.svg", ":/sessionscope/icons/sessionscope.svg"}) {
        if (QFile::exists(QLatin1String(icon))) {
            QApplication::setWindowIcon(QIcon(QLatin1String(icon)));
            break;
        }
    }

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Debugging console for Trigger.dev chat-agent sessions"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(QStringLiteral("server"), QStringLiteral("Connect to the backend at URL."),
                                          QStringLiteral("URL"));
    const QCommandLineOption keyOption(QStringLiteral("key"), QStringLiteral("Secret key for --server."),
                                       QStringLiteral("KEY"));
    const QCommandLineOption profileOption(QStringLiteral("profile"), QStringLiteral("Connect with the named profile."),
                                           QStringLiteral("NAME"));
    const QCommandLineOption dataDirOption(
        QStringLiteral("data-dir"),
        QStringLiteral("Data folder of the embedded server (default: SESSIONSCOPE_DATA_DIR or the app's data folder)."),
        QStringLiteral("DIR"));
    parser.addOptions({serverOption, keyOption, profileOption, dataDirOption});
    parser.process(app);

    if (parser.isSet(serverOption) && parser.isSet(profileOption)) {
        std::fputs("sessionscope: use either --server or --profile, not both\n", stderr);
        return 2;
    }

    BackendConnection backend;
    MainWindow window(&backend);
    window.resize(1440, 900);
    window.show();

    if (parser.isSet(serverOption)) {
        const QUrl url(parser.value(serverOption));
        ConnectionProfile profile = ConnectionProfile::selfHosted(QStringLiteral("command line"), url);
        profile.secretKey = parser.value(keyOption);
        backend.connectTo(profile);
    } else if (parser.isSet(profileOption)) {
        auto *store = new ProfileStore(ProfileStore::defaultDirectory(), &backend);
        if (auto loaded = store->load(); !loaded) {
            std::fprintf(stderr, "sessionscope: %s\n", qPrintable(loaded.error().message));
            return 1;
        }
        const QString name = parser.value(profileOption);
        store->resolve(name, &backend, [&backend, name](Result<ConnectionProfile> profile) {
            if (!profile.ok()) {
                std::fprintf(stderr, "sessionscope: profile \"%s\": %s\n", qPrintable(name),
                             qPrintable(profile.error().message));
                return;
            }
            backend.connectTo(*profile);
        });
    } else {
        const QString dataDir =
            parser.isSet(dataDirOption) ? parser.value(dataDirOption) : BackendConnection::defaultDataDir();
        // After show(): the window is up at once, the server follows in the same tick.
        QTimer::singleShot(0, &backend, [&backend, dataDir] {
            if (auto started = backend.startEmbedded(dataDir); !started)
                std::fprintf(stderr, "sessionscope: embedded server: %s\n", qPrintable(started.error().message));
        });
    }
    return app.exec();
}
