#pragma once

#include <QDir>
#include <QString>
#include <QWidget>

namespace sessionscope::uitest {

// Saves a widget under ${SESSIONSCOPE_BUILD_DIR}/screenshots (the test helper
// sets it) so a person can look at what the test saw.
inline QString saveScreenshot(QWidget *widget, const QString &name)
{
    QString dir = qEnvironmentVariable("SESSIONSCOPE_BUILD_DIR");
    if (dir.isEmpty())
        dir = QDir::currentPath();
    dir += QStringLiteral("/screenshots");
    QDir().mkpath(dir);
    const QString path = dir + QLatin1Char('/') + name + QStringLiteral(".png");
    widget->grab().save(path);
    return path;
}

} // namespace sessionscope::uitest
