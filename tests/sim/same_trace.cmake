# same_trace.cmake — sim.trace_across_runs: runs `test_sim trace` twice, in
# two processes, and fails unless both print the same trace_hash.
# Usage: cmake -DTEST_SIM=<path to test_sim> -P same_trace.cmake
foreach(run a b)
  execute_process(COMMAND ${TEST_SIM} trace OUTPUT_VARIABLE out_${run}
                  ERROR_VARIABLE err_${run} RESULT_VARIABLE rc_${run}
                  TIMEOUT 240)
  if(NOT rc_${run} EQUAL 0)
    message(FATAL_ERROR "test_sim trace failed (${rc_${run}}):\n${out_${run}}\n${err_${run}}")
  endif()
  string(REGEX MATCH "trace_hash=[0-9a-f]+" hash_${run} "${out_${run}}${err_${run}}")
  if(NOT hash_${run})
    message(FATAL_ERROR "no trace_hash in:\n${out_${run}}\n${err_${run}}")
  endif()
endforeach()
if(NOT hash_a STREQUAL hash_b)
  message(FATAL_ERROR "two runs differ: ${hash_a} vs ${hash_b}")
endif()
message(STATUS "both runs: ${hash_a}")
