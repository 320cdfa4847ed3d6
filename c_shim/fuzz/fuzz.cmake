# c_shim/fuzz: libFuzzer targets over the C value API, the call path's conversions and the
# private handles.
# Included by the root CMakeLists.txt (it uses mlbridge_shim, STRICT_C_FLAGS and ASAN_FLAGS).
#  - Always (with MLBRIDGE_ASAN): each target linked with replay.c instead of libFuzzer, and a
#    ctest that replays the committed corpus under ASan (make test).
#  - With -DMLBRIDGE_FUZZ=ON and clang: the libFuzzer binaries (make fuzz).
set(FUZZ_DIR "${SHIM_DIR}/fuzz")
set(FUZZ_TARGETS values convert handles)
option(MLBRIDGE_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

if(MLBRIDGE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MLBRIDGE_FUZZ needs clang (-DCMAKE_C_COMPILER=clang), not ${CMAKE_C_COMPILER_ID}")
  endif()
  set(FUZZ_FLAGS -fsanitize=fuzzer,address -fno-omit-frame-pointer)
  # The library is instrumented for coverage too: the conversions live there.
  mlbridge_shim(metacall_fuzz "${CMAKE_BINARY_DIR}/fuzz-lib" -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)
  foreach(name IN LISTS FUZZ_TARGETS)
    add_executable(fuzz_${name} "${FUZZ_DIR}/fuzz_${name}.c")
    target_link_libraries(fuzz_${name} PRIVATE metacall_fuzz ${FUZZ_FLAGS})
    target_compile_options(fuzz_${name} PRIVATE ${STRICT_C_FLAGS} ${FUZZ_FLAGS})
    set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/fuzz-bin")
  endforeach()
endif()

if(MLBRIDGE_ASAN)
  foreach(name IN LISTS FUZZ_TARGETS)
    add_executable(c_fuzz_${name}_replay "${FUZZ_DIR}/fuzz_${name}.c" "${FUZZ_DIR}/replay.c")
    target_link_libraries(c_fuzz_${name}_replay PRIVATE metacall_asan ${ASAN_FLAGS})
    target_compile_options(c_fuzz_${name}_replay PRIVATE ${STRICT_C_FLAGS} ${ASAN_FLAGS})
    add_test(NAME c_fuzz_${name}_replay COMMAND c_fuzz_${name}_replay "${FUZZ_DIR}/corpus/${name}")
    set_tests_properties(c_fuzz_${name}_replay PROPERTIES TIMEOUT 300 ENVIRONMENT
      "PYTHONMALLOC=malloc;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;LSAN_OPTIONS=suppressions=${SHIM_DIR}/tests/lsan.supp:print_suppressions=0")
  endforeach()
endif()
