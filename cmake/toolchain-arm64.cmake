# Debian arm64 (AArch64, little-endian): see cmake/cross-toolchain.cmake.
set(CF_CROSS_ARCH arm64)
set(CF_CROSS_TRIPLET aarch64-linux-gnu)
set(CF_CROSS_PROCESSOR aarch64)
set(CF_CROSS_QEMU aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-toolchain.cmake)
