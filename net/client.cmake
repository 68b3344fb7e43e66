# The client half of net/: REST client, subscriptions, appender, tokens,
# profiles and observed history. Included from net/CMakeLists.txt.
target_sources(sessionscope_net PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/backoff.h
  ${CMAKE_CURRENT_LIST_DIR}/backoff.cpp
  ${CMAKE_CURRENT_LIST_DIR}/connectionprofile.h
  ${CMAKE_CURRENT_LIST_DIR}/connectionprofile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/inappender.h
  ${CMAKE_CURRENT_LIST_DIR}/inappender.cpp
  ${CMAKE_CURRENT_LIST_DIR}/observedhistory.h
  ${CMAKE_CURRENT_LIST_DIR}/observedhistory.cpp
  ${CMAKE_CURRENT_LIST_DIR}/profilestore.h
  ${CMAKE_CURRENT_LIST_DIR}/profilestore.cpp
  ${CMAKE_CURRENT_LIST_DIR}/redaction.h
  ${CMAKE_CURRENT_LIST_DIR}/redaction.cpp
  ${CMAKE_CURRENT_LIST_DIR}/resttransport.h
  ${CMAKE_CURRENT_LIST_DIR}/resttransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sessionoutsubscription.h
  ${CMAKE_CURRENT_LIST_DIR}/sessionoutsubscription.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sessionsclient.h
  ${CMAKE_CURRENT_LIST_DIR}/sessionsclient.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenmanager.h
  ${CMAKE_CURRENT_LIST_DIR}/tokenmanager.cpp
)
# Secret keys live in the system keychain where one runs.
target_link_libraries(sessionscope_net PRIVATE qt6keychain)
