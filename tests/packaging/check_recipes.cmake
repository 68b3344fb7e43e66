# ctest packaging_recipes: loads every platform's CPack recipe, including the
# Windows (NSIS) and macOS (DragNDrop) ones that cannot be built on Debian,
# and checks each sets what its generator needs and that every file the
# packaging installs exists in the tree.
#   cmake -DSOURCE_DIR=<tree> -DVERSION=<project version> -P check_recipes.cmake
if(NOT SOURCE_DIR OR NOT VERSION)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=... -DVERSION=... -P check_recipes.cmake")
endif()

# Loads one recipe in a function scope (so they cannot leak into each other)
# and checks the variables its generator reads.
function(check_recipe recipe system generator)
  set(PROJECT_VERSION "${VERSION}")
  set(CPACK_PACKAGE_CONTACT "contact")
  set(CMAKE_SYSTEM_NAME "${system}")
  set(CMAKE_SYSTEM_PROCESSOR "x86_64")
  # Rendered on Windows at build time (resources/CMakeLists.txt).
  set(SESSIONSCOPE_ICO "${CMAKE_CURRENT_BINARY_DIR}/sessionscope.ico")
  include("${SOURCE_DIR}/packaging/${recipe}")
  if(NOT "${CPACK_GENERATOR}" STREQUAL "${generator}")
    message(SEND_ERROR "${recipe}: CPACK_GENERATOR is \"${CPACK_GENERATOR}\", not \"${generator}\"")
  endif()
  if(NOT CPACK_PACKAGE_FILE_NAME MATCHES "^sessionscope-${VERSION}-")
    message(SEND_ERROR "${recipe}: the package file name \"${CPACK_PACKAGE_FILE_NAME}\" lacks the version")
  endif()
  foreach(variable IN LISTS ARGN)
    if(NOT DEFINED ${variable} OR "${${variable}}" STREQUAL "")
      message(SEND_ERROR "${recipe}: ${variable} is not set")
    endif()
  endforeach()
  message(STATUS "${recipe}: ${generator}, ${CPACK_PACKAGE_FILE_NAME}")
endfunction()

check_recipe(linux/deb-tgz.cmake Linux "DEB;TGZ"
  CPACK_DEBIAN_PACKAGE_SECTION CPACK_DEBIAN_PACKAGE_SHLIBDEPS CPACK_DEBIAN_PACKAGE_DEPENDS CPACK_DEBIAN_FILE_NAME)
check_recipe(windows/nsis.cmake Windows NSIS
  CPACK_NSIS_DISPLAY_NAME CPACK_NSIS_MUI_ICON CPACK_NSIS_INSTALLED_ICON_NAME CPACK_NSIS_EXECUTABLES_DIRECTORY)
check_recipe(macos/dragndrop.cmake Darwin DragNDrop CPACK_DMG_VOLUME_NAME CPACK_DMG_FORMAT)

foreach(file
    resources/icons/sessionscope.svg
    resources/desktop/sessionscope.desktop
    resources/desktop/io.github.sessionscope.metainfo.xml.in
    packaging/man/sessionscope.1.in
    packaging/man/sessionscope-server.1.in
    packaging/man/sessionscope-cli.1.in
    packaging/systemd/sessionscope-server.service
    packaging/appdir.sh
    scripts/package)
  if(NOT EXISTS "${SOURCE_DIR}/${file}")
    message(SEND_ERROR "${file} is missing")
  endif()
endforeach()
