# SPDX-License-Identifier: MIT
# Part of `cmake --install` (CMakeLists.txt, "version, installation and
# packaging"): runs at install time, when CMAKE_INSTALL_PREFIX is the prefix
# given then and DESTDIR is in the environment.
#   - the systemd unit, its ExecStart naming the installed binary, into
#     PREFIX/lib/systemd/system;
#   - /etc/switchboard/switchboard.yaml and /etc/default/switchboard, the
#     config and environment file the unit reads, only where absent: an
#     operator's own files are never overwritten.
# Expects SB_SOURCE_DIR, SB_BINARY_DIR and SB_BINDIR (relative to the prefix,
# or absolute).
set(bindir "${SB_BINDIR}")
if(NOT IS_ABSOLUTE "${bindir}")
  set(bindir "${CMAKE_INSTALL_PREFIX}/${bindir}")
endif()
file(READ "${SB_SOURCE_DIR}/dist/switchboard.service.in" unit)
string(REPLACE "@BINDIR@" "${bindir}" unit "${unit}")
# One staging file per destination: two installs may run at once (the
# tests install into several DESTDIRs in parallel).
string(SHA1 key "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(staged "${SB_BINARY_DIR}/install-staging/${key}/switchboard.service")
file(WRITE "${staged}" "${unit}")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     TYPE FILE FILES "${staged}")

# FILE in /etc, its source in dist/, its mode
foreach(entry "switchboard/switchboard.yaml|switchboard.yaml|644"
              "default/switchboard|switchboard.default|600")
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 dest)
  list(GET entry 1 src)
  list(GET entry 2 mode)
  get_filename_component(dir "/etc/${dest}" DIRECTORY)
  get_filename_component(name "${dest}" NAME)
  if(EXISTS "$ENV{DESTDIR}/etc/${dest}")
    message(STATUS "Keeping: $ENV{DESTDIR}/etc/${dest} (an existing file "
                   "is never overwritten)")
  else()
    if(mode STREQUAL "600")
      set(perms OWNER_READ OWNER_WRITE)
    else()
      set(perms OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
    file(INSTALL DESTINATION "${dir}" TYPE FILE PERMISSIONS ${perms}
         RENAME "${name}" FILES "${SB_SOURCE_DIR}/dist/${src}")
  endif()
endforeach()
