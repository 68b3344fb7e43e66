#include "app/cli/serverargs.h"

#include <QEventLoop>
#include <QPointer>
#include <QTimer>

#include <QJsonArray>
#include <QJsonDocument>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace sessionscope {

void printJsonLine(const QJsonObject &object, std::initializer_list<const char *> leading)
{
    nlohmann::ordered_json line = nlohmann::ordered_json::object();
    const auto add = [&line](const QString &key, const QJsonValue &value) {
        // QJsonDocument holds only arrays and objects: wrap the value, unwrap it.
        const QByteArray text = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
        line[key.toStdString()] = nlohmann::ordered_json::parse(text.constData())[0];
    };
    QJsonObject rest = object;
    for (const char *key : leading) {
        if (rest.contains(QLatin1String(key)))
            add(QLatin1String(key), rest.take(QLatin1String(key)));
    }
    for (auto it = rest.begin(); it != rest.end(); ++it)
        add(it.key(), it.value());
    std::fprintf(stdout, "%s\n", line.dump().c_str());
    std::fflush(stdout);
}

std::optional<QString> takeOption(QStringList &args, const QString &name, bool *missingValue)
{
    const QString prefix = name + QLatin1Char('=');
    for (qsizetype i = 0; i < args.size(); ++i) {
        if (args[i] == u"--")
            break;
        if (args[i].startsWith(prefix)) {
            const QString value = args[i].mid(prefix.size());
            args.removeAt(i);
            return value;
        }
        if (args[i] == name) {
            if (i + 1 >= args.size()) {
                *missingValue = true;
                args.removeAt(i);
                return std::nullopt;
            }
            const QString value = args[i + 1];
            args.remove(i, 2);
            return value;
        }
    }
    return std::nullopt;
}

bool takeFlag(QStringList &args, const QString &name)
{
    const qsizetype end = args.indexOf(QStringLiteral("--"));
    const qsizetype i = args.indexOf(name);
    if (i < 0 || (end >= 0 && i > end))
        return false;
    args.removeAt(i);
    return true;
}

int runUntilFinished(const std::function<void(const std::function<void(int)> &finish)> &start,
                     std::chrono::milliseconds timeout, int timeoutStatus)
{
    QEventLoop loop;
    auto status = std::make_shared<std::optional<int>>();
    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&loop] { loop.exit(); });
    deadline.start(timeout);
    // A callback that outlives this loop finds it gone and does nothing.
    QPointer<QEventLoop> guard(&loop);
    start([status, guard](int code) {
        if (!*status && guard) {
            *status = code;
            guard->exit();
        }
    });
    if (!*status)
        loop.exec();
    return status->value_or(timeoutStatus);
}

} // namespace sessionscope
