# Tests of the client half of net/ (REST client, subscription, appender,
# tokens, profiles, observed history). Included from tests/CMakeLists.txt, so
# paths are spelled from this file's folder.
sessionscope_add_test(tst_profilestore net
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_profilestore.cpp ${CMAKE_CURRENT_LIST_DIR}/awaitresult.h
  LIBS sessionscope_net)
target_include_directories(tst_profilestore PRIVATE ${CMAKE_CURRENT_LIST_DIR})

# The rest talk to a real sessionscope-server on loopback.
if(TARGET sessionscope-server)
  set(_client_test_support
    ${CMAKE_CURRENT_LIST_DIR}/awaitresult.h ${CMAKE_CURRENT_LIST_DIR}/testsessions.h
    ${CMAKE_CURRENT_LIST_DIR}/testserverprocess.h ${CMAKE_CURRENT_LIST_DIR}/testserverprocess.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cuttingproxy.h ${CMAKE_CURRENT_LIST_DIR}/cuttingproxy.cpp
    ${CMAKE_CURRENT_LIST_DIR}/teststreamwriter.h ${CMAKE_CURRENT_LIST_DIR}/teststreamwriter.cpp)
  foreach(_t tst_sessionsclient tst_sessionoutsubscription tst_inappender tst_tokenmanager tst_observedhistory)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_t}.cpp)
      sessionscope_add_test(${_t} net
        SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_t}.cpp ${_client_test_support}
        LIBS sessionscope_net Qt6::Network)
      target_include_directories(${_t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
      if(_t STREQUAL "tst_sessionoutsubscription")
        # Seeds its 50,000-record stream with the server's own store.
        target_link_libraries(${_t} PRIVATE sessionscope_server)
      endif()
      target_compile_definitions(${_t} PRIVATE SESSIONSCOPE_SERVER_BINARY="$<TARGET_FILE:sessionscope-server>")
      add_dependencies(${_t} sessionscope-server)
    endif()
  endforeach()
  # The remote verbs of sessionscope-cli, run as a user would.
  if(TARGET sessionscope-cli AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/tst_clientcli.cpp)
    sessionscope_add_test(tst_clientcli net
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_clientcli.cpp ${_client_test_support}
      LIBS sessionscope_net Qt6::Network)
    target_include_directories(tst_clientcli PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(tst_clientcli PRIVATE
      SESSIONSCOPE_SERVER_BINARY="$<TARGET_FILE:sessionscope-server>"
      SESSIONSCOPE_CLI_BINARY="$<TARGET_FILE:sessionscope-cli>")
    add_dependencies(tst_clientcli sessionscope-server sessionscope-cli)
  endif()
endif()
