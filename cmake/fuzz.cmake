# The libFuzzer targets (CF_FUZZ=ON; docs/testing.md, "Fuzzing").  Every
# tests/fuzz/fuzz_*.c is one target linked with -fsanitize=fuzzer against the
# library objects, which CMakeLists.txt compiles with
# -fsanitize=fuzzer-no-link,address,undefined in this mode.  Each target's
# checked-in seeds are tests/fuzz/corpus/<target>/; fuzz_corpus_gen (built
# here too) writes them with the project's own encoders.  scripts/fuzz.sh
# runs them.
file(GLOB CF_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src IN LISTS CF_FUZZ_TARGETS)
  get_filename_component(exe ${src} NAME_WE)
  add_executable(${exe} ${src})
  target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}
    ${MBEDTLS_INCLUDE_DIR} ${PostgreSQL_INCLUDE_DIRS})
  target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
  target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${exe} PRIVATE clientflow_static)
endforeach()

add_executable(fuzz_corpus_gen ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus_gen.c)
target_include_directories(fuzz_corpus_gen PRIVATE ${CMAKE_SOURCE_DIR}
  ${MBEDTLS_INCLUDE_DIR} ${PostgreSQL_INCLUDE_DIRS})
target_link_libraries(fuzz_corpus_gen PRIVATE clientflow_static)
