# Cross-compiling for another Debian architecture (docs/portability.md).
# Included by cmake/toolchain-<arch>.cmake, which sets CF_CROSS_ARCH (the
# Debian architecture) and CF_CROSS_TRIPLET (the GNU triplet).  The cross
# compiler is Debian's <triplet>-gcc; the libraries come from a private
# sysroot of the architecture's -dev packages, unpacked by scripts/cross.sh
# and passed as -DCF_CROSS_SYSROOT=<dir> (or the environment variable of the
# same name).  Test programs run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR,
# which ctest puts in front of every test executable).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${CF_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${CF_CROSS_TRIPLET}-gcc)

if(NOT CF_CROSS_SYSROOT AND DEFINED ENV{CF_CROSS_SYSROOT})
  set(CF_CROSS_SYSROOT $ENV{CF_CROSS_SYSROOT})
endif()
if(NOT CF_CROSS_SYSROOT)
  message(FATAL_ERROR "CF_CROSS_SYSROOT is not set (scripts/cross.sh makes it)")
endif()
# try_compile projects re-read this file: pass the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CF_CROSS_SYSROOT)

# The toolchain's own C library (libc6-dev-<arch>-cross) and the sysroot.
set(CF_CROSS_LIBC /usr/${CF_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH ${CF_CROSS_SYSROOT} ${CF_CROSS_LIBC})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE ${CF_CROSS_TRIPLET})

# Headers of the sysroot's packages (some live under include/<triplet>), and
# the libraries they pull in at link time (-rpath-link: the linker checks the
# dependencies of every shared library it links).
set(cf_libdirs ${CF_CROSS_SYSROOT}/usr/lib/${CF_CROSS_TRIPLET}
               ${CF_CROSS_SYSROOT}/lib/${CF_CROSS_TRIPLET})
set(CMAKE_C_FLAGS_INIT
    "-isystem ${CF_CROSS_SYSROOT}/usr/include/${CF_CROSS_TRIPLET} -isystem ${CF_CROSS_SYSROOT}/usr/include")
set(cf_link "")
foreach(d IN LISTS cf_libdirs)
  string(APPEND cf_link " -L${d} -Wl,-rpath-link,${d}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${cf_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${cf_link}")

# ctest runs every test program as: qemu-<cpu> -L <libc> -E LD_LIBRARY_PATH=... prog
string(REPLACE ";" ":" cf_ldpath "${cf_libdirs}")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-${CF_CROSS_QEMU} -L ${CF_CROSS_LIBC}
    -E LD_LIBRARY_PATH=${cf_ldpath})
