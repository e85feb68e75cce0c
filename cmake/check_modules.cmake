# The module rules, checked on every build (docs/architecture.md, "Modules").
#
# Run as a script: cmake -DROOT=<source dir> -DSTAMP=<file> -P check_modules.cmake
# Reads every .c/.h of the library and the program, and fails the build when
# a file includes a header of a module it may not depend on, or one of the
# six libraries outside the one place that owns it.  Each module's own
# include path (CMakeLists.txt) also keeps libpq's headers away from every
# module but sync/master; Debian installs the other five libraries' headers
# in /usr/include, where no include path can hide them, hence this check.

# module folder -> the project folders its files may include from
set(allow_platform "platform/")
set(allow_core "core/;platform/")
set(allow_store "store/;core/;platform/")
set(allow_sync_auth "sync/auth/;core/;platform/")
set(allow_sync_net "sync/net/;core/;platform/")
set(allow_sync_master "sync/master/;core/;platform/")
set(allow_sync_session "sync/session/;store/;core/;platform/")
set(allow_sync_server
    "sync/server/;sync/session/;sync/net/;sync/master/;sync/auth/;core/;platform/")
set(allow_sync_client "sync/client/;sync/session/;sync/net/;store/;core/;platform/")
set(allow_cli "cli/;sim/;sync/;store/;core/;platform/")
set(allow_sim "sim/;sync/;store/;core/;platform/")

# library header -> the files or folders that alone may include it
set(lib_headers "msgpack.h" "mbedtls/" "sqlite3.h" "libpq-fe.h" "libwebsockets.h" "ev.h")
set(owner_msgpack.h "core/codec.c")
set(owner_mbedtls/ "core/crypto.c")
set(owner_sqlite3.h "store/")
set(owner_libpq-fe.h "sync/master/pg.c")
set(owner_libwebsockets.h "sync/net/")
set(owner_ev.h "sync/net/") # libev: the loop lws runs on (docs/transport.md)

set(modules platform core store sync/auth sync/net sync/master sync/session sync/server
            sync/client cli sim)
set(errors "")
foreach(mod IN LISTS modules)
  string(REPLACE "/" "_" key "${mod}")
  file(GLOB_RECURSE files "${ROOT}/${mod}/*.c" "${ROOT}/${mod}/*.h")
  foreach(path IN LISTS files)
    file(RELATIVE_PATH rel "${ROOT}" "${path}")
    file(STRINGS "${path}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" inc "${line}")
      # a project header: must be in an allowed folder
      if(inc MATCHES "^(core|store|platform|sync|cli|sim)/")
        set(ok 0)
        foreach(prefix IN LISTS allow_${key})
          string(FIND "${inc}" "${prefix}" at)
          if(at EQUAL 0)
            set(ok 1)
          endif()
        endforeach()
        if(NOT ok)
          list(APPEND errors "${rel}: module ${mod} may not include \"${inc}\"")
        endif()
      endif()
      # one of the six libraries: only where it is owned
      foreach(h IN LISTS lib_headers)
        string(FIND "${inc}" "${h}" at)
        if(at EQUAL 0)
          string(FIND "${rel}" "${owner_${h}}" own)
          if(NOT own EQUAL 0)
            list(APPEND errors "${rel}: <${inc}> belongs to ${owner_${h}} alone")
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()
if(errors)
  list(JOIN errors "\n  " text)
  message(FATAL_ERROR "module rules broken (docs/architecture.md, \"Modules\"):\n  ${text}")
endif()
file(WRITE "${STAMP}" "ok\n")
