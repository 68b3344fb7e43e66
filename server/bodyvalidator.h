#pragma once

#include "server/wirejson.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace sessionscope {

// Checks request bodies field by field and words failures as the webapp's
// zod schemas do ("Validation error: String must contain at most 64
// character(s) at \"type\""). Each getter records a problem and returns
// nullopt when the field is present but wrong; a missing optional field is
// nullopt without a problem.
class BodyValidator
{
public:
    // Object-ness of the root is checked too.
    explicit BodyValidator(const Json &root);

    const Json &root() const { return m_root; }
    bool has(const Json &object, const char *key) const;

    std::optional<QString> string(const Json &object, const char *key, const QString &path,
                                  bool required, int minLength = 0, int maxLength = -1,
                                  bool trim = false);
    std::optional<qint64> integer(const Json &object, const char *key, const QString &path,
                                  bool required, std::optional<qint64> min,
                                  std::optional<qint64> max);
    std::optional<QStringList> stringArray(const Json &object, const char *key, const QString &path,
                                           int maxItems, int maxItemLength);
    // Present and an object (a zod record); `nullable` allows null.
    bool object(const Json &object, const char *key, const QString &path, bool required,
                bool nullable = false);
    std::optional<QString> oneOf(const Json &object, const char *key, const QString &path,
                                 const QStringList &values);

    void fail(const QString &path, const QString &message);
    bool ok() const { return m_problems.isEmpty(); }
    // "Validation error: ... at \"path\"; ...".
    QString message() const;

    static QString typeName(const Json &value);

private:
    const Json &m_root;
    QStringList m_problems;
};

} // namespace sessionscope
