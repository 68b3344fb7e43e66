# The agent runtime's suites (server/agent/). Included from tests/.
if(TARGET sessionscope_server)
  foreach(suite tst_agentversion tst_agentreply tst_agentrunner tst_agenthttp)
    sessionscope_add_test(${suite} server SOURCES ${CMAKE_CURRENT_LIST_DIR}/${suite}.cpp LIBS sessionscope_server)
  endforeach()
endif()
