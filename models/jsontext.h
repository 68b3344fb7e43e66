#pragma once

#include <QString>

#include <nlohmann/json.hpp>

#include <string>

namespace sessionscope {

QString fromStdString(const std::string &text);

// JSON for display: compact (indent < 0) or indented, invalid UTF-8 replaced
// rather than thrown on. Strings come out unquoted when `bareStrings` is set;
// null comes out empty.
QString jsonText(const nlohmann::json &value, int indent = -1, bool bareStrings = true);

} // namespace sessionscope
