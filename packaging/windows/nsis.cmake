# Windows: an NSIS installer, sessionscope-<version>-win64.exe. Build on
# Windows with Qt 6 (MSVC) and NSIS on PATH:
#   cmake --preset release && cmake --build --preset release
#   cpack --config build/release/CPackConfig.cmake
# packaging/CMakeLists.txt runs windeployqt at install time (Qt's
# qt_generate_deploy_app_script), so the Qt DLLs and plugins land in bin/
# next to sessionscope.exe. This cannot be built on the project's Debian
# machines; the ctest `packaging_recipes` loads this file (variables only)
# and checks it stays complete.
set(CPACK_GENERATOR "NSIS")
set(CPACK_PACKAGE_FILE_NAME "sessionscope-${PROJECT_VERSION}-win64")
set(CPACK_NSIS_PACKAGE_NAME "sessionscope ${PROJECT_VERSION}")
set(CPACK_NSIS_DISPLAY_NAME "sessionscope")
set(CPACK_NSIS_INSTALLED_ICON_NAME "bin\\\\sessionscope.exe")
set(CPACK_NSIS_MUI_ICON "${SESSIONSCOPE_ICO}")
set(CPACK_NSIS_MUI_UNIICON "${SESSIONSCOPE_ICO}")
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
set(CPACK_NSIS_MODIFY_PATH ON)
set(CPACK_NSIS_EXECUTABLES_DIRECTORY "bin")
set(CPACK_NSIS_MUI_FINISHPAGE_RUN "sessionscope.exe")
set(CPACK_NSIS_CONTACT "${CPACK_PACKAGE_CONTACT}")
