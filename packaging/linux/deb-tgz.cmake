# Linux: a .deb for Debian 12 and a relocatable .tar.gz. Both install the
# executables linked against Debian's system Qt 6 (no Qt inside); the
# self-contained folder with Qt bundled is packaging/appdir.sh.
# Variables only: the ctest `packaging_recipes` loads this file in script mode.
set(CPACK_GENERATOR "DEB;TGZ")

# .deb: sessionscope_<version>_<arch>.deb, installed under /usr.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
# dpkg-shlibdeps computes the libraries' packages from the binaries. The SQLite
# driver and the SVG icon engine (the window icon) are Qt plugins loaded at run
# time, so no linker dependency names their packages.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libqt6sql6-sqlite, libqt6svg6")
# A keychain service stores connection secrets; without one they go to a 0600 file.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gnome-keyring | kwalletmanager")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# No maintainer scripts: the icon cache, desktop database and man-db are
# refreshed by the dpkg triggers of the packages that own them.

# .tar.gz: one top folder sessionscope-<version>-linux-<arch>/ with bin/, share/
# and lib/systemd/user/. Nothing in it holds an absolute path, so it runs from
# wherever it is unpacked, on the system Qt 6 of Debian 12.
string(TOLOWER "${CMAKE_SYSTEM_NAME}-${CMAKE_SYSTEM_PROCESSOR}" SESSIONSCOPE_PLATFORM)
set(CPACK_PACKAGE_FILE_NAME "sessionscope-${PROJECT_VERSION}-${SESSIONSCOPE_PLATFORM}")
set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)
