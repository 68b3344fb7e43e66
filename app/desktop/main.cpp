#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QLabel>
#include <QMainWindow>
#include <QStatusBar>

// The console proper lands with the desktop issue; until then the window says
// which backend it would connect to, so `scripts/run` shows something true.
int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sessionscope"));
    QApplication::setApplicationVersion(QStringLiteral(SESSIONSCOPE_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/sessionscope/icon.svg")));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Debugging console for Trigger.dev chat-agent sessions"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(QStringLiteral("server"),
                                          QStringLiteral("Connect to the backend at URL."),
                                          QStringLiteral("URL"));
    const QCommandLineOption profileOption(QStringLiteral("profile"),
                                           QStringLiteral("Connect with the named profile."),
                                           QStringLiteral("NAME"));
    parser.addOption(serverOption);
    parser.addOption(profileOption);
    parser.process(app);

    QString backend = QStringLiteral("the embedded server");
    if (parser.isSet(serverOption))
        backend = parser.value(serverOption);
    else if (parser.isSet(profileOption))
        backend = QStringLiteral("profile \"%1\"").arg(parser.value(profileOption));

    QMainWindow window;
    window.setWindowTitle(QStringLiteral("sessionscope — %1").arg(backend));
    auto *label = new QLabel(
        QStringLiteral("<h2>sessionscope %1</h2><p>Would connect to <b>%2</b>.</p>")
            .arg(QStringLiteral(SESSIONSCOPE_VERSION), backend.toHtmlEscaped()));
    label->setAlignment(Qt::AlignCenter);
    window.setCentralWidget(label);
    window.statusBar()->showMessage(QStringLiteral("Backend: %1 (not connected)").arg(backend));
    window.resize(720, 420);
    window.show();
    return app.exec();
}
