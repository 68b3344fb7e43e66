# macOS: a DragNDrop disk image, sessionscope-<version>-macos.dmg, holding
# sessionscope.app. Build on macOS with Qt 6:
#   cmake --preset release && cmake --build --preset release
#   cpack --config build/release/CPackConfig.cmake
# packaging/CMakeLists.txt runs macdeployqt at install time (Qt's
# qt_generate_deploy_app_script), which copies the Qt frameworks and plugins
# into the bundle. sessionscope-server and sessionscope-cli install to bin/
# beside the bundle. This cannot be built on the project's Debian machines;
# the ctest `packaging_recipes` loads this file (variables only) and checks
# it stays complete.
set(CPACK_GENERATOR "DragNDrop")
set(CPACK_PACKAGE_FILE_NAME "sessionscope-${PROJECT_VERSION}-macos")
set(CPACK_DMG_VOLUME_NAME "sessionscope ${PROJECT_VERSION}")
set(CPACK_DMG_FORMAT "UDZO")
set(CPACK_DMG_FILESYSTEM "HFS+")
set(CPACK_DMG_SLA_USE_RESOURCE_FILE_LICENSE OFF)
