# CMake toolchain file: Debian 12 cross build for mipsel (mipsel-linux-gnu), tests under
# qemu-mipsel. Usage: scripts/cross mipsel, or
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mipsel.cmake [-DIVCS_CROSS_SYSROOT=DIR] ...
# See debian-cross.cmake.
set(IVCS_CROSS_TRIPLET mipsel-linux-gnu)
set(IVCS_CROSS_PROCESSOR mipsel)
set(IVCS_CROSS_QEMU qemu-mipsel)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
