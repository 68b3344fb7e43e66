#pragma once

#include <QStringList>

namespace sessionscope {

// sessionscope-cli profiles list|add|set-key|default|remove: the named
// backends --profile picks from (see the verb's --help).
int runProfilesCommand(const QStringList &args);

} // namespace sessionscope
