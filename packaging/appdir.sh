#!/usr/bin/env bash
# Builds the AppImage-style folder sessionscope-<version>-<arch>.AppDir (and a
# .tar.gz of it) from a built tree:
#
#   packaging/appdir.sh BUILD_DIR OUT_DIR
#
# The folder runs on its own: the Qt libraries, the libraries they need and
# the Qt plugins (platforms, SQLite driver, TLS, image formats, ...) are
# copied from the installed Debian packages beside the binaries, every ELF
# file gets an rpath ($ORIGIN based, set with patchelf) that finds them there,
# usr/bin/qt.conf points Qt at the bundled plugins, and AppRun starts the
# console (or `AppRun sessionscope-server|sessionscope-cli ...` the others).
# The host provides only the C/C++ runtime, the graphics, font and GLib/D-Bus
# stack and the system's authentication libraries (host_libraries below, as
# AppImage's exclusion list does). Each bundled library's Debian package,
# version and copyright file are recorded in
# usr/share/doc/sessionscope/bundled-libraries.txt and usr/share/doc/<package>/.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: packaging/appdir.sh BUILD_DIR OUT_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)

for tool in patchelf ldd dpkg-query file; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "appdir: $tool is missing (scripts/deps.sh installs it)" >&2
    exit 1
  fi
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
if [ -z "$version" ]; then
  echo "appdir: $build is not a configured sessionscope build" >&2
  exit 1
fi
arch=$(uname -m)
name="sessionscope-$version-$arch.AppDir"
appdir="$out/$name"
qt_plugins=$(/usr/lib/qt6/bin/qtpaths6 --query QT_INSTALL_PLUGINS)

rm -rf "$appdir" "$appdir.tar.gz"
mkdir -p "$appdir"
cmake --install "$build" --prefix "$appdir/usr" --strip >/dev/null

# Plugins the three executables load at run time.
plugins=(
  platforms/libqxcb.so platforms/libqoffscreen.so platforms/libqminimal.so
  platforms/libqwayland-generic.so platforms/libqwayland-egl.so
  xcbglintegrations platforminputcontexts wayland-shell-integration
  wayland-decoration-client wayland-graphics-integration-client
  imageformats iconengines sqldrivers/libqsqlite.so tls networkinformation
)
for plugin in "${plugins[@]}"; do
  [ -e "$qt_plugins/$plugin" ] || continue
  mkdir -p "$appdir/usr/plugins/$(dirname "$plugin")"
  cp -R "$qt_plugins/$plugin" "$appdir/usr/plugins/$(dirname "$plugin")/"
done
cat >"$appdir/usr/bin/qt.conf" <<'EOF'
[Paths]
Prefix = ..
Libraries = lib
Plugins = plugins
EOF

# Provided by every desktop Linux; a bundled copy of one of these can clash
# with the host's copies of the libraries that use it.
host_libraries=(
  # C and C++ runtime
  linux-vdso ld-linux-x86-64 libc libm libdl libpthread librt libresolv libutil libgcc_s libstdc++ libgomp
  # graphics, X11, Wayland and fonts
  libGL libGLX libGLdispatch libEGL libOpenGL libgbm libdrm libX11 libX11-xcb libxcb libXau libXdmcp
  libSM libICE libwayland-client libwayland-cursor libwayland-egl libfontconfig libfreetype libharfbuzz
  libgraphite2 libasound
  # GLib, D-Bus, systemd and what they link
  libglib-2.0 libgobject-2.0 libgio-2.0 libgmodule-2.0 libgthread-2.0 libdbus-1 libsystemd libudev
  libmount libblkid libselinux libffi libpcre2-8 libcap libgcrypt libgpg-error liblzma liblz4 libzstd
  libz libexpat libuuid libbsd libmd
  # system authentication
  libgssapi_krb5 libkrb5 libk5crypto libkrb5support libcom_err libkeyutils
)
declare -A is_host=()
for library in "${host_libraries[@]}"; do
  is_host[$library]=1
done
is_host_library() {
  [ -n "${is_host[${1%%.so*}]:-}" ]
}

elf_files() {
  find "$appdir/usr/bin" "$appdir/usr/plugins" "$appdir/usr/lib" -type f 2>/dev/null |
    while read -r f; do
      if file -b "$f" | grep -q '^ELF'; then printf '%s\n' "$f"; fi
    done
}

# ldd lists the whole dependency closure of each file, so one pass over the
# executables and plugins finds every library.
mkdir -p "$appdir/usr/lib"
manifest="$appdir/usr/share/doc/sessionscope/bundled-libraries.txt"
mkdir -p "$(dirname "$manifest")"
echo "# Libraries bundled in this folder: soname, Debian package, version" >"$manifest"
declare -A bundled=()
mapfile -t executables < <(elf_files)
for elf in "${executables[@]}"; do
  while read -r soname path; do
    [ -n "$path" ] || continue
    if is_host_library "$soname" || [ -n "${bundled[$soname]:-}" ]; then
      continue
    fi
    real=$(readlink -f "$path")
    # dpkg knows a file by the path its package ships, /lib or /usr/lib.
    owner=$(dpkg-query -S "$real" 2>/dev/null || dpkg-query -S "${real#/usr}" 2>/dev/null ||
      dpkg-query -S "$path" 2>/dev/null || true)
    if [ -z "$owner" ]; then
      echo "appdir: $soname ($real) comes from no Debian package; refusing to bundle it" >&2
      exit 1
    fi
    package=${owner%%:*}
    package_version=$(dpkg-query -W -f='${Version}' "$package")
    cp "$real" "$appdir/usr/lib/$soname"
    chmod 0644 "$appdir/usr/lib/$soname"
    bundled[$soname]=$package
    printf '%s %s %s\n' "$soname" "$package" "$package_version" >>"$manifest"
    if [ -f "/usr/share/doc/$package/copyright" ] && [ ! -e "$appdir/usr/share/doc/$package/copyright" ]; then
      mkdir -p "$appdir/usr/share/doc/$package"
      cp "/usr/share/doc/$package/copyright" "$appdir/usr/share/doc/$package/"
    fi
  done < <(ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
done

# RUNPATH applies to an object's own dependencies only, so every ELF file
# gets one pointing at usr/lib from where it sits.
# shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader, not the shell
while read -r elf; do
  case "$elf" in
    "$appdir/usr/bin/"*) rpath='$ORIGIN/../lib' ;;
    "$appdir/usr/lib/"*) rpath='$ORIGIN' ;;
    *) rpath='$ORIGIN/../../lib' ;;
  esac
  patchelf --set-rpath "$rpath" "$elf"
done < <(elf_files)

cat >"$appdir/AppRun" <<'EOF'
#!/bin/sh
# Starts sessionscope from this folder. `AppRun sessionscope-server ARGS` and
# `AppRun sessionscope-cli ARGS` start the other two executables, and so does
# a symlink to AppRun named after one of them.
here=$(dirname "$(readlink -f "$0")")
case "$(basename "$0")" in
  sessionscope-server | sessionscope-cli) exec "$here/usr/bin/$(basename "$0")" "$@" ;;
esac
case "${1-}" in
  sessionscope-server | sessionscope-cli)
    tool=$1
    shift
    exec "$here/usr/bin/$tool" "$@"
    ;;
esac
exec "$here/usr/bin/sessionscope" "$@"
EOF
chmod 0755 "$appdir/AppRun"
cp "$appdir/usr/share/applications/sessionscope.desktop" "$appdir/"
cp "$appdir/usr/share/icons/hicolor/scalable/apps/sessionscope.svg" "$appdir/"
cp "$appdir/usr/share/icons/hicolor/256x256/apps/sessionscope.png" "$appdir/"
ln -s sessionscope.png "$appdir/.DirIcon"

tar -C "$out" -czf "$appdir.tar.gz" "$name"
echo "appdir: $appdir (${#bundled[@]} libraries bundled)"
