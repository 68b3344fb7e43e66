#include "models/clientdatadiff.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>

#include <algorithm>

namespace sessionscope {

namespace {

bool absent(const QJsonValue &value)
{
    return value.isUndefined();
}

QString join(const QString &prefix, const QString &key)
{
    return prefix.isEmpty() ? key : prefix + u'.' + key;
}

} // namespace

ClientDataDiff ClientDataDiff::between(const QJsonValue &before, const QJsonValue &after)
{
    ClientDataDiff diff;
    // A missing or null clientData is an empty one: every key of the other is added or removed.
    const QJsonValue from = before.isNull() || before.isUndefined() ? QJsonValue(QJsonObject()) : before;
    const QJsonValue to = after.isNull() || after.isUndefined() ? QJsonValue(QJsonObject()) : after;
    diff.walk(QString(), from, to);
    return diff;
}

void ClientDataDiff::walk(const QString &prefix, const QJsonValue &before, const QJsonValue &after)
{
    if (before == after)
        return;
    if (absent(before)) {
        m_added.append({prefix, before, after});
        return;
    }
    if (absent(after)) {
        m_removed.append({prefix, before, after});
        return;
    }
    if (!before.isObject() || !after.isObject()) {
        m_changed.append({prefix, before, after});
        return;
    }
    const QJsonObject a = before.toObject();
    const QJsonObject b = after.toObject();
    QStringList keys = a.keys();
    for (const QString &key : b.keys()) {
        if (!a.contains(key))
            keys.append(key);
    }
    std::sort(keys.begin(), keys.end());
    for (const QString &key : std::as_const(keys))
        walk(join(prefix, key), a.value(key), b.value(key));
}

QStringList ClientDataDiff::paths() const
{
    QStringList out;
    for (const QList<Change> *list : {&m_added, &m_removed, &m_changed}) {
        for (const Change &c : *list)
            out.append(c.path);
    }
    std::sort(out.begin(), out.end());
    return out;
}

QString ClientDataDiff::valueText(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
    case QJsonValue::Array:
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact));
    case QJsonValue::String:
        return u'"' + value.toString() + u'"';
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double:
        return QString::number(value.toDouble(), 'g', QLocale::FloatingPointShortest);
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Undefined:
        return {};
    }
    return {};
}

QString ClientDataDiff::summary() const
{
    QStringList parts;
    const auto name = [](const Change &c) { return c.path.isEmpty() ? QStringLiteral("(clientData)") : c.path; };
    for (const Change &c : m_changed)
        parts.append(name(c) + QStringLiteral(": ") + valueText(c.before) + QStringLiteral(" \u2192 ") + valueText(c.after));
    for (const Change &c : m_added)
        parts.append(u'+' + name(c) + QStringLiteral(": ") + valueText(c.after));
    for (const Change &c : m_removed)
        parts.append(QChar(0x2212) + name(c));
    return parts.join(QStringLiteral("; "));
}

} // namespace sessionscope
