# debian-cross.cmake - shared part of the per-arch toolchain files
# (arm64.cmake, armhf.cmake, mipsel.cmake): Debian 12's cross compilers
# (gcc-<triplet>, g++-<triplet>) and the libraries ivcs links, taken for the
# target arch either
#  - from IVCS_CROSS_SYSROOT: a directory holding the arch's Debian packages
#    unpacked with `dpkg -x` (what scripts/cross makes in build-<arch>/sysroot),
#    or any firmware SDK sysroot laid out the same way
#    (<root>/usr/include, <root>/usr/lib/<triplet>); or
#  - with IVCS_CROSS_SYSROOT empty, from a multiarch install
#    (`apt-get install libssl-dev:<arch> ...` into /usr/lib/<triplet>).
# The C library comes with the cross compiler (/usr/<triplet>).
#
# The tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, so ctest
# runs them as it would natively): qemu-<arch> -L /usr/<triplet>, with the
# sysroot's library directory on the guest's LD_LIBRARY_PATH.
#
# The including file sets IVCS_CROSS_TRIPLET, IVCS_CROSS_PROCESSOR and
# IVCS_CROSS_QEMU.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${IVCS_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${IVCS_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${IVCS_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${IVCS_CROSS_TRIPLET})

# try_compile projects re-read this file: hand them the sysroot too.
set(IVCS_CROSS_SYSROOT "${IVCS_CROSS_SYSROOT}" CACHE PATH
    "Unpacked target packages (<root>/usr/lib/<triplet>); empty: multiarch install")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES IVCS_CROSS_SYSROOT)
set(_ivcs_root "${IVCS_CROSS_SYSROOT}")
set(_ivcs_libdir "${_ivcs_root}/usr/lib/${IVCS_CROSS_TRIPLET}")
set(_ivcs_libdir2 "${_ivcs_root}/lib/${IVCS_CROSS_TRIPLET}") # libexpat1 and others

if(_ivcs_root)
  set(CMAKE_FIND_ROOT_PATH "${_ivcs_root}" "/usr/${IVCS_CROSS_TRIPLET}")
else()
  set(CMAKE_FIND_ROOT_PATH "/usr/${IVCS_CROSS_TRIPLET}" "/")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (liburing, jemalloc, vo-aacenc): the target's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "${_ivcs_libdir}/pkgconfig:${_ivcs_root}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
if(_ivcs_root)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${_ivcs_root}")
  # <triplet>-gcc does not look in the sysroot: its multiarch include dir
  # (openssl/opensslconf.h), its libraries, and what they need at link time.
  set(_ivcs_flags "-isystem ${_ivcs_root}/usr/include/${IVCS_CROSS_TRIPLET}")
  set(CMAKE_C_FLAGS_INIT "${_ivcs_flags}")
  set(CMAKE_CXX_FLAGS_INIT "${_ivcs_flags}")
  foreach(k EXE SHARED MODULE)
    set(CMAKE_${k}_LINKER_FLAGS_INIT
        "-L${_ivcs_libdir} -Wl,-rpath-link,${_ivcs_libdir}:${_ivcs_libdir2}")
  endforeach()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${IVCS_CROSS_QEMU} -L /usr/${IVCS_CROSS_TRIPLET}
      -E LD_LIBRARY_PATH=${_ivcs_libdir}:${_ivcs_libdir2})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${IVCS_CROSS_QEMU} -L /usr/${IVCS_CROSS_TRIPLET})
endif()
