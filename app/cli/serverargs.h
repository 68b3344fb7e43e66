#pragma once

// Argument and event-loop helpers the verbs that talk to a server share.

#include <QJsonObject>
#include <QStringList>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>

namespace sessionscope {

// Prints `object` as one JSON line on stdout, the `leading` keys first in
// that order, the others after them.
void printJsonLine(const QJsonObject &object, std::initializer_list<const char *> leading = {});
// Takes `--name VALUE` or `--name=VALUE` out of args. nullopt when absent;
// sets *missingValue when the option is last with no value.
std::optional<QString> takeOption(QStringList &args, const QString &name, bool *missingValue);
// Takes a bare flag (`--next`) out of args.
bool takeFlag(QStringList &args, const QString &name);

// Runs the event loop until `finish` is called (or the time is up: then it
// returns `timeoutStatus`). `start` gets `finish` to call with an exit status.
int runUntilFinished(const std::function<void(const std::function<void(int)> &finish)> &start,
                     std::chrono::milliseconds timeout, int timeoutStatus);

} // namespace sessionscope
