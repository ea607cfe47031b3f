# CMake toolchain file: Debian 12 cross build for arm64 (aarch64-linux-gnu), tests under
# qemu-aarch64. Usage: scripts/cross arm64, or
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm64.cmake [-DIVCS_CROSS_SYSROOT=DIR] ...
# See debian-cross.cmake.
set(IVCS_CROSS_TRIPLET aarch64-linux-gnu)
set(IVCS_CROSS_PROCESSOR aarch64)
set(IVCS_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
