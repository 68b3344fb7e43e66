#pragma once

#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringList>

namespace sessionscope {

// What changed between two clientData values: keys added, removed and
// changed, nested objects walked with dotted paths ("flags.beta"). Arrays and
// scalars compare as whole values. A clientData that is not an object is
// compared as one value at the empty path.
class ClientDataDiff
{
public:
    struct Change
    {
        QString path;
        QJsonValue before; // Undefined when added
        QJsonValue after;  // Undefined when removed

        bool operator==(const Change &) const = default;
    };

    static ClientDataDiff between(const QJsonValue &before, const QJsonValue &after);

    const QList<Change> &added() const { return m_added; }
    const QList<Change> &removed() const { return m_removed; }
    const QList<Change> &changed() const { return m_changed; }
    bool isEmpty() const { return m_added.isEmpty() && m_removed.isEmpty() && m_changed.isEmpty(); }
    // Every path that differs, sorted.
    QStringList paths() const;
    // One line: `appVersion: "1.0" → "1.1"; +beta: true; −legacy`.
    QString summary() const;

    static QString valueText(const QJsonValue &value);

    bool operator==(const ClientDataDiff &) const = default;

private:
    void walk(const QString &prefix, const QJsonValue &before, const QJsonValue &after);

    QList<Change> m_added;
    QList<Change> m_removed;
    QList<Change> m_changed;
};

} // namespace sessionscope
