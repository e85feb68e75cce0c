# The test list.  Every tests/unit/test_*.c and tests/integration/test_*.c is
# one executable built on tests/cf_test.h; each CF_TEST(name) in it becomes
# one ctest test of that name, run as `<exe> <name>`.  Integration tests need
# the private PostgreSQL cluster, which the `pg_start` / `pg_stop` fixture
# tests start and stop (pg_stop runs even when tests fail).
set(CF_PG_DIR ${CMAKE_BINARY_DIR}/pg)
set(CF_PG_ENV
  "CF_TEST_PGHOST=${CF_PG_DIR}/sock"
  "CF_TEST_PGPORT=${CF_TEST_PG_PORT}"
  "CF_TEST_PGTEMPLATE=cf_template"
  "CF_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "CF_BINARY_DIR=${CMAKE_BINARY_DIR}"
  "CF_CLIENTFLOW=$<TARGET_FILE:clientflow>"
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

add_test(NAME pg_start COMMAND ${CMAKE_SOURCE_DIR}/scripts/pgcluster.sh start
         ${CF_PG_DIR} ${CF_TEST_PG_PORT} $<TARGET_FILE:clientflow>)
add_test(NAME pg_stop COMMAND ${CMAKE_SOURCE_DIR}/scripts/pgcluster.sh stop
         ${CF_PG_DIR} ${CF_TEST_PG_PORT})
set_tests_properties(pg_start PROPERTIES FIXTURES_SETUP pg)
set_tests_properties(pg_stop PROPERTIES FIXTURES_CLEANUP pg)

add_library(cf_test_support STATIC ${CMAKE_SOURCE_DIR}/tests/cf_test.c)
target_include_directories(cf_test_support PUBLIC ${CMAKE_SOURCE_DIR}
  ${CMAKE_SOURCE_DIR}/tests ${MBEDTLS_INCLUDE_DIR} ${PostgreSQL_INCLUDE_DIRS})
target_link_libraries(cf_test_support PUBLIC clientflow_static)

# GCC 12's -Wdangling-pointer reports false positives at -O2 in test_jwt.c,
# where a token pointer is freed and the variable reused for a new token,
# and in test_sync_revoke_wipe.c (strrchr into a token still alive).
if(CMAKE_C_COMPILER_ID STREQUAL "GNU" AND CMAKE_C_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
  set_source_files_properties(${CMAKE_SOURCE_DIR}/tests/unit/test_jwt.c
    ${CMAKE_SOURCE_DIR}/tests/integration/test_sync_revoke_wipe.c
    PROPERTIES COMPILE_OPTIONS -Wno-dangling-pointer)
endif()

function(cf_add_test_file src needs_pg)
  get_filename_component(exe ${src} NAME_WE)
  add_executable(${exe} ${src})
  target_link_libraries(${exe} PRIVATE cf_test_support)
  file(READ ${src} text)
  # clang-format may break a long name onto the next line: CF_TEST(\n name)
  string(REGEX MATCHALL "CF_TEST\\([ \t\r\n]*[a-z0-9_]+\\)" found "${text}")
  foreach(m IN LISTS found)
    string(REGEX REPLACE "CF_TEST\\([ \t\r\n]*([a-z0-9_]+)\\)" "\\1" name "${m}")
    add_test(NAME ${name} COMMAND ${exe} ${name})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${CF_PG_ENV}" TIMEOUT 600)
    if(needs_pg)
      set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED pg LABELS integration)
    else()
      set_tests_properties(${name} PROPERTIES LABELS unit)
    endif()
    # The replica tests run a second time on encrypted replicas
    # (tests/unit/store_helpers.h opens them with a key; docs/encryption.md).
    if(exe MATCHES "^test_store_")
      add_test(NAME ${name}_encrypted COMMAND ${exe} ${name})
      set_tests_properties(${name}_encrypted PROPERTIES
        ENVIRONMENT "${CF_PG_ENV};CF_TEST_ENCRYPT=1" TIMEOUT 600 LABELS unit)
    endif()
  endforeach()
endfunction()

file(GLOB CF_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src IN LISTS CF_UNIT_TESTS)
  cf_add_test_file(${src} OFF)
endforeach()
file(GLOB CF_INTEGRATION_TESTS CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/integration/test_*.c)
foreach(src IN LISTS CF_INTEGRATION_TESTS)
  cf_add_test_file(${src} ON)
endforeach()

# Shell-driven tests (pgTAP, the CLI end to end): tests/*.sh, one ctest test each.
file(GLOB CF_SHELL_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/shell/test_*.sh)
foreach(src IN LISTS CF_SHELL_TESTS)
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME ${name} COMMAND bash ${src})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${CF_PG_ENV}"
    FIXTURES_REQUIRED pg LABELS integration TIMEOUT 900)
endforeach()

# Examples: each examples/<name>/main.c builds alone and runs as a test.
file(GLOB CF_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*/main.c)
foreach(src IN LISTS CF_EXAMPLES)
  get_filename_component(dir ${src} DIRECTORY)
  get_filename_component(name ${dir} NAME)
  add_executable(example_${name} ${src})
  target_link_libraries(example_${name} PRIVATE clientflow_static)
  # An example with a test.sh is run by it (it needs a server and the test
  # cluster; CF_EXAMPLE names the program); the others run alone.
  if(EXISTS ${dir}/test.sh)
    target_link_libraries(example_${name} PRIVATE Threads::Threads)
    add_test(NAME example_${name} COMMAND bash ${dir}/test.sh
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    set_tests_properties(example_${name} PROPERTIES
      ENVIRONMENT "${CF_PG_ENV};CF_EXAMPLE=$<TARGET_FILE:example_${name}>"
      FIXTURES_REQUIRED pg LABELS "example;integration" TIMEOUT 300)
  else()
    add_test(NAME example_${name} COMMAND example_${name}
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    set_tests_properties(example_${name} PROPERTIES ENVIRONMENT "${CF_PG_ENV}"
      LABELS example)
  endif()
endforeach()

# examples/embed keeps its replica under $TMPDIR: pointed at a directory that
# does not exist, it says so (instead of quietly using /tmp).
if(TARGET example_embed)
  add_test(NAME example_embed_uses_tmpdir COMMAND example_embed)
  set_tests_properties(example_embed_uses_tmpdir PROPERTIES LABELS example
    ENVIRONMENT "TMPDIR=${CMAKE_BINARY_DIR}/no-such-dir"
    PASS_REGULAR_EXPRESSION "cannot create a directory in ${CMAKE_BINARY_DIR}/no-such-dir")
endif()

# Benchmarks: built, never run by ctest.
file(GLOB CF_BENCHES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bench/bench_*.c)
foreach(src IN LISTS CF_BENCHES)
  get_filename_component(exe ${src} NAME_WE)
  add_executable(${exe} ${src})
  target_link_libraries(${exe} PRIVATE cf_test_support)
endforeach()
# bench_scale times the moment a replica's thread reads a frame by wrapping
# the library's call that hands it to the session (GNU ld and lld).
target_link_options(bench_scale PRIVATE -Wl,--wrap=cf__csess_on_message)

# The simulation harness (docs/sim.md): a bounded sweep of random seeds in
# a few chunks (they run in parallel), every shipped scenario, and the
# self-test that each planted bug is caught.  Each run checks every
# invariant; a failure prints the command that replays it.
set(CF_SIM_URL "host=${CF_PG_DIR}/sock port=${CF_TEST_PG_PORT} user=postgres dbname=postgres")
set(CF_SIM_SWEEP_CHUNKS 4 CACHE STRING "ctest chunks of the simulation sweep")
set(CF_SIM_SWEEP_SEEDS 50 CACHE STRING "seeds per chunk")
math(EXPR last_chunk "${CF_SIM_SWEEP_CHUNKS} - 1")
foreach(k RANGE ${last_chunk})
  math(EXPR first "1 + ${k} * ${CF_SIM_SWEEP_SEEDS}")
  add_test(NAME sim_sweep_${k} COMMAND clientflow sim --database-url ${CF_SIM_URL}
           --seed ${first} --seeds ${CF_SIM_SWEEP_SEEDS})
endforeach()
file(GLOB CF_SCENARIOS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/scenarios/*.scn)
foreach(scn IN LISTS CF_SCENARIOS)
  get_filename_component(name ${scn} NAME_WE)
  add_test(NAME sim_scenario_${name} COMMAND clientflow sim --database-url ${CF_SIM_URL}
           --scenario ${scn})
endforeach()
if(CF_PLANT_BUGS)
  foreach(plant cursor cascade stale leak)
    add_test(NAME sim_plant_${plant}_is_caught COMMAND clientflow sim --database-url
             ${CF_SIM_URL} --seed 1 --seeds 300 --plant ${plant} --expect-violation)
  endforeach()
  # Since replicas take the server's clock as reference (skewed clocks), two
  # random writes of one cell rarely share an HLC: random seeds first catch
  # `tie` at seed 293, about 8 minutes under ASan.  The shipped scenario
  # makes the tie on purpose and catches it at once (docs/sim.md).
  add_test(NAME sim_plant_tie_is_caught COMMAND clientflow sim --database-url
           ${CF_SIM_URL} --scenario
           ${CMAKE_SOURCE_DIR}/examples/scenarios/equal_hlc_tie_broken_by_node_id.scn
           --plant tie --expect-violation)
endif()
# Real mode: every shipped scenario, and a few random seeds, through a
# `clientflow serve` process and `clientflow node sync` processes (some
# killed with SIGKILL) over loopback WebSockets.
foreach(scn IN LISTS CF_SCENARIOS)
  get_filename_component(name ${scn} NAME_WE)
  add_test(NAME sim_real_scenario_${name} COMMAND clientflow sim --real --database-url
           ${CF_SIM_URL} --scenario ${scn})
endforeach()
add_test(NAME sim_real_sweep COMMAND clientflow sim --real --database-url ${CF_SIM_URL}
         --seed 1 --seeds 4 --steps 30)
get_property(sim_tests DIRECTORY PROPERTY TESTS)
foreach(t IN LISTS sim_tests)
  if(t MATCHES "^sim_")
    set_tests_properties(${t} PROPERTIES ENVIRONMENT "${CF_PG_ENV}" FIXTURES_REQUIRED pg
                         LABELS "integration;sim" TIMEOUT 900)
  endif()
endforeach()
if(TARGET test_sim_script)
  target_link_libraries(test_sim_script PRIVATE cf_sim)
endif()

# The package (docs/packaging.md): the shared library exports exactly the
# header's functions, and `cmake --install` gives a tree that outside
# projects build against with CMake and with pkg-config (every
# examples/*/CMakeLists.txt, its offline tests run).
add_test(NAME exports_match_header COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-exports.sh
         $<TARGET_FILE:clientflow_shared> ${CMAKE_SOURCE_DIR}/include/clientflow.h)
add_test(NAME package_install_builds_examples COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-install.sh
         ${CMAKE_BINARY_DIR})
set_tests_properties(exports_match_header package_install_builds_examples PROPERTIES
  LABELS "unit;package" TIMEOUT 600)

# A replica file written on one architecture reads the same on another
# (docs/portability.md): scripts/cross.sh runs the program across qemu; here
# it writes and verifies on this machine.
add_executable(replica_portable ${CMAKE_SOURCE_DIR}/tests/portable/replica_portable.c)
target_link_libraries(replica_portable PRIVATE cf_test_support)
add_test(NAME replica_portable_roundtrip COMMAND replica_portable roundtrip
         ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(replica_portable_roundtrip PROPERTIES LABELS unit)

# Every program the "unit" label runs, for builds that need no more
# (scripts/cross.sh builds only these for the other architectures).
set(cf_unit_exes replica_portable)
foreach(src IN LISTS CF_UNIT_TESTS)
  get_filename_component(exe ${src} NAME_WE)
  list(APPEND cf_unit_exes ${exe})
endforeach()
add_custom_target(cf_unit_tests DEPENDS ${cf_unit_exes})
