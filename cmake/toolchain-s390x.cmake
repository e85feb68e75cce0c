# Debian s390x (IBM Z, 64-bit big-endian): see cmake/cross-toolchain.cmake.
set(CF_CROSS_ARCH s390x)
set(CF_CROSS_TRIPLET s390x-linux-gnu)
set(CF_CROSS_PROCESSOR s390x)
set(CF_CROSS_QEMU s390x)
include(${CMAKE_CURRENT_LIST_DIR}/cross-toolchain.cmake)
