#include "models/jsontext.h"

namespace sessionscope {

QString fromStdString(const std::string &text)
{
    return QString::fromUtf8(text.data(), qsizetype(text.size()));
}

QString jsonText(const nlohmann::json &value, int indent, bool bareStrings)
{
    if (value.is_null())
        return {};
    if (bareStrings && value.is_string())
        return fromStdString(value.get_ref<const std::string &>());
    return fromStdString(value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace));
}

} // namespace sessionscope
