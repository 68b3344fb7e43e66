# Runs one libFuzzer target for a fixed time (see CMakeLists.txt): new inputs
# go to FOUND, the committed SEEDS are only read. Prints libFuzzer's final
# stats (its whole log on a finding), writes "<name> <runs> runs in <s> s"
# to STATS, and fails on any finding.
#   cmake -DFUZZER=... -DNAME=... -DSECONDS=60 -DMAX_LEN=65536 -DSTATS=... -DARTIFACTS=...
#         -DFOUND=... -DSEEDS=... -P runfuzzer.cmake
if(DEFINED ENV{SESSIONSCOPE_FUZZ_SECONDS})
  set(SECONDS $ENV{SESSIONSCOPE_FUZZ_SECONDS})
endif()
file(MAKE_DIRECTORY ${FOUND})
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -max_len=${MAX_LEN}
          -print_final_stats=1 -artifact_prefix=${ARTIFACTS} ${FOUND} ${SEEDS}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
# The whole log on a finding; otherwise only the summary libFuzzer ends with.
if(result EQUAL 0)
  string(REGEX MATCHALL "(INFO: seed corpus[^\n]*|Done [^\n]*|stat::[^\n]*)" summary "${out}")
  list(JOIN summary "\n" summary)
  message("${summary}")
else()
  message("${out}")
endif()
if(out MATCHES "Done ([0-9]+) runs in ([0-9]+) second")
  set(line "${NAME} ${CMAKE_MATCH_1} runs in ${CMAKE_MATCH_2} s")
else()
  set(line "${NAME} no final stats (exit ${result})")
endif()
message("fuzz stats: ${line}")
file(WRITE ${STATS} "${line}\n")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${NAME} found a problem (exit ${result}); the input is under ${ARTIFACTS}*")
endif()
