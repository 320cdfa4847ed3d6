# tests/conformance: the cross-host conformance table through MetaCall's C ABI.
# Included by the root CMakeLists.txt (it uses mlbridge's targets, STRICT_C_FLAGS and ASAN_FLAGS).
# gen_c.py turns cases.json into a header of static data at build time (C has no JSON parser
# here); runner.c calls every case and checks its answer; ctest runs it plain and under ASan.
set(CONF_DIR "${PROJECT_SOURCE_DIR}/tests/conformance")
set(CONF_HEADER "${CMAKE_BINARY_DIR}/generated/conformance/conformance_cases.h")
add_custom_command(
  OUTPUT "${CONF_HEADER}"
  COMMAND "${Python3_EXECUTABLE}" -m conformance.gen_c "${CONF_HEADER}"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}/tests"
  DEPENDS "${CONF_DIR}/cases.json" "${CONF_DIR}/table.py" "${CONF_DIR}/gen_c.py"
  COMMENT "Generating the C conformance cases from tests/conformance/cases.json"
  VERBATIM)

# mlbridge_conformance(<target> <library> [sanitizer flags...])
function(mlbridge_conformance target library)
  add_executable(${target} "${CONF_DIR}/runner.c" "${CONF_HEADER}")
  target_include_directories(${target} PRIVATE "${CONF_DIR}" "${CMAKE_BINARY_DIR}/generated/conformance")
  target_link_libraries(${target} PRIVATE ${library} Threads::Threads m ${ARGN})
  target_compile_options(${target} PRIVATE ${STRICT_C_FLAGS} ${ARGN})
endfunction()

# c_conformance: the table once; c_conformance_threads: 4 passes at once, the same answers.
mlbridge_conformance(c_conformance_runner metacall)
add_test(NAME c_conformance COMMAND c_conformance_runner)
add_test(NAME c_conformance_threads COMMAND c_conformance_runner 4)
set_tests_properties(c_conformance c_conformance_threads PROPERTIES TIMEOUT 120)
if(MLBRIDGE_ASAN)
  mlbridge_conformance(c_conformance_runner_asan metacall_asan ${ASAN_FLAGS})
  add_test(NAME c_conformance_asan COMMAND c_conformance_runner_asan)
  add_test(NAME c_conformance_threads_asan COMMAND c_conformance_runner_asan 4)
  set_tests_properties(c_conformance_asan c_conformance_threads_asan PROPERTIES TIMEOUT 300 ENVIRONMENT
    "PYTHONMALLOC=malloc;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;LSAN_OPTIONS=suppressions=${SHIM_DIR}/tests/lsan.supp:print_suppressions=0")
endif()
