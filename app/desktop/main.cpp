#include "net/profilestore.h"
#include "ui/backendconnection.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QEvent>
#include <QFile>
#include <QIcon>
#include <QTimer>
#include <QWindow>

#include <cstdio>

using namespace sessionscope;

namespace {

// --report-startup (bench "startup"): the first paint of the main window, and
// the first paint once the backend (by default the embedded server) answers.
// Prints both, in ms since main() began, and exits.
class StartupReporter : public QObject
{
public:
    StartupReporter(const QElapsedTimer &clock, QWidget *window, BackendConnection *backend)
        : QObject(window), m_clock(clock), m_window(window), m_backend(backend)
    {
        qApp->installEventFilter(this);
        connect(backend, &BackendConnection::stateChanged, this, [this](BackendConnection::State state) {
            if (state == BackendConnection::State::Failed) {
                std::fprintf(stderr, "sessionscope: startup failed: %s\n", qPrintable(m_backend->lastError()));
                QCoreApplication::exit(1);
            }
        });
    }

    bool eventFilter(QObject *watched, QEvent *event) override
    {
        // The paint pass ends before the next event-loop turn: time it then.
        if (event->type() == QEvent::Paint && !m_pending && watched->isWidgetType()
            && static_cast<QWidget *>(watched)->window() == m_window) {
            m_pending = true;
            QTimer::singleShot(0, this, [this] { painted(); });
        }
        return false;
    }

private:
    void painted()
    {
        m_pending = false;
        if (m_firstPaintMs < 0)
            m_firstPaintMs = m_clock.elapsed();
        if (m_backend->state() != BackendConnection::State::Connected)
            return;
        std::fprintf(stderr, "sessionscope: startup first-paint %lld ms, ready %lld ms\n", m_firstPaintMs,
                     m_clock.elapsed());
        QCoreApplication::exit(0);
    }

    const QElapsedTimer &m_clock;
    QWidget *m_window;
    BackendConnection *m_backend;
    qint64 m_firstPaintMs = -1;
    bool m_pending = false;
};

} // namespace

int main(int argc, char *argv[])
{
    QElapsedTimer startupClock;
    startupClock.start();
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sessionscope"));
    QApplication::setOrganizationName(QStringLiteral("sessionscope"));
    QApplication::setApplicationVersion(QStringLiteral(SESSIONSCOPE_VERSION));
    // Matches the installed sessionscope.desktop, so Wayland shells find the icon.
    QGuiApplication::setDesktopFileName(QStringLiteral("sessionscope"));
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
    const QCommandLineOption quitAfterShownOption(
        QStringLiteral("quit-after-shown"),
        QStringLiteral("Smoke test for installed copies: MS milliseconds after the main window is on screen, print "
                       "\"sessionscope: main window shown\" to stderr and exit 0."),
        QStringLiteral("MS"));
    const QCommandLineOption reportStartupOption(
        QStringLiteral("report-startup"),
        QStringLiteral("Benchmark: once the main window has painted with its backend connected, print \"sessionscope: "
                       "startup first-paint MS ms, ready MS ms\" to stderr and exit 0."));
    parser.addOptions(
        {serverOption, keyOption, profileOption, dataDirOption, quitAfterShownOption, reportStartupOption});
    parser.process(app);

    int quitAfterShownMs = -1;
    if (parser.isSet(quitAfterShownOption)) {
        bool ok = false;
        quitAfterShownMs = parser.value(quitAfterShownOption).toInt(&ok);
        if (!ok || quitAfterShownMs < 0) {
            std::fputs("sessionscope: --quit-after-shown needs a number of milliseconds >= 0\n", stderr);
            return 2;
        }
    }

    if (parser.isSet(serverOption) && parser.isSet(profileOption)) {
        std::fputs("sessionscope: use either --server or --profile, not both\n", stderr);
        return 2;
    }

    BackendConnection backend;
    MainWindow window(&backend);
    if (parser.isSet(reportStartupOption))
        new StartupReporter(startupClock, &window, &backend);
    window.resize(1440, 900);
    window.show();
    if (quitAfterShownMs >= 0) {
        QTimer::singleShot(quitAfterShownMs, &window, [&window] {
            const bool shown = window.isVisible() && window.windowHandle() && window.windowHandle()->isExposed();
            std::fprintf(stderr, "sessionscope: main window %s (%s)\n", shown ? "shown" : "NOT shown",
                         qPrintable(window.windowTitle()));
            QCoreApplication::exit(shown ? 0 : 1);
        });
    }

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
