# CMake toolchain file: Debian 12 cross build for armhf (arm-linux-gnueabihf), tests under
# qemu-arm. Usage: scripts/cross armhf, or
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf.cmake [-DIVCS_CROSS_SYSROOT=DIR] ...
# See debian-cross.cmake.
set(IVCS_CROSS_TRIPLET arm-linux-gnueabihf)
set(IVCS_CROSS_PROCESSOR armv7l)
set(IVCS_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
