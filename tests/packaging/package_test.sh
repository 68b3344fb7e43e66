#!/usr/bin/env bash
# The packaging tests (ctest label `packaging`): build the packages from this
# build tree, install them as a user would, and run what got installed.
#
#   package_test.sh install SOURCE_DIR BUILD_DIR VERSION
#       the .deb (dpkg -x into a scratch root; dpkg -i when root in CI) and
#       the .tar.gz (unpacked, then moved to another folder)
#   package_test.sh appdir SOURCE_DIR BUILD_DIR VERSION
#       the AppImage-style folder from packaging/appdir.sh, from its .tar.gz
#
# Each installed copy must: answer --version and --help in all three
# executables; serve a session end to end (sessionscope-server, then
# sessionscope-cli sessions create, send, tail --until turn-complete); bring
# the console's main window up under the offscreen platform with its embedded
# server connected. SESSIONSCOPE_ICON_SIZES lists the hicolor sizes to expect.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: package_test.sh install|appdir SOURCE_DIR BUILD_DIR VERSION" >&2
  exit 2
fi
mode=$1
source_dir=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
version=$4
icon_sizes=${SESSIONSCOPE_ICON_SIZES:-16 32 48 128 256}

work=$(mktemp -d "${TMPDIR:-/tmp}/sessionscope-packaging.XXXXXX")
server_pid=
installed_deb=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$installed_deb" ]; then
    dpkg -r sessionscope >/dev/null 2>&1 || echo "package_test: could not remove the installed sessionscope package" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# What the programs write under HOME stays in the scratch folder.
export HOME="$work/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$work/runtime"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"
export QT_QPA_PLATFORM=offscreen
unset SESSIONSCOPE_SERVER SESSIONSCOPE_URL SESSIONSCOPE_KEY SESSIONSCOPE_SECRET_KEY SESSIONSCOPE_DATA_DIR

passed=0
failed=0
log="$work/check.log"

# check DESCRIPTION COMMAND...: runs COMMAND, counts, shows its output on failure.
check() {
  local description=$1
  shift
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "PASS $description"
  else
    failed=$((failed + 1))
    echo "FAIL $description"
    sed 's/^/    /' "$log" | tail -n 40
  fi
}

# grep -q after a pipe can leave the writer with SIGPIPE, which pipefail
# turns into a failure: read everything instead.
contains() {
  grep "$@" >/dev/null
}

skip() {
  echo "SKIP $1"
}

# The command that starts executable NAME of the copy under test, in $cmd.
bindir=
apprun=
command_of() {
  if [ -n "$apprun" ]; then
    if [ "$1" = sessionscope ]; then cmd=("$apprun"); else cmd=("$apprun" "$1"); fi
  else
    cmd=("$bindir/$1")
  fi
}

run() {
  local cmd
  command_of "$1"
  shift
  timeout 60 "${cmd[@]}" "$@"
}

prints_version() {
  run "$1" --version | tee /dev/stderr | contains -F "$version"
}

prints_help() {
  run "$1" --help | tee /dev/stderr | contains 'Usage:'
}

# A raw HTTP request on loopback, so the test needs no curl.
response_has_version_header() {
  local port=$1 key=$2 response
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' \
    "$port" "$key" >&3
  response=$(timeout 10 cat <&3 | tr -d '\r')
  exec 3<&-
  printf '%s\n' "$response" | sed -n '1,/^$/p'
  printf '%s\n' "$response" | contains -ix "x-sessionscope-version: $version"
}

cli() {
  SESSIONSCOPE_SERVER=$server_url SESSIONSCOPE_KEY=$server_key run sessionscope-cli "$@"
}

creates_session() {
  cli sessions create --task chat-agent --external-id "$1" \
    --client-data '{"userId":"u1","protocolVersion":"v1"}' | tee /dev/stderr | contains -F "$1"
}

sends_and_gets_answer() {
  cli send "$1" "Hello from the installed package" | tee /dev/stderr | contains '"answer"'
}

tails_to_turn_complete() {
  cli tail "$1" --until turn-complete | tee /dev/stderr | contains 'turn-complete'
}

stops_on_sigterm() {
  local status=0
  kill -TERM "$server_pid"
  for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$server_pid" || status=$?
  server_pid=
  echo "exit status $status"
  [ "$status" -eq 0 ]
}

# sessionscope-server and sessionscope-cli end to end, then the console.
exercise_programs() {
  local label=$1 dir="$work/run-$1" cmd
  mkdir -p "$dir"
  for exe in sessionscope sessionscope-server sessionscope-cli; do
    check "$label: $exe --version prints $version" prints_version "$exe"
    check "$label: $exe --help" prints_help "$exe"
  done

  server_key="packaging-test-key-$RANDOM$RANDOM"
  command_of sessionscope-server
  "${cmd[@]}" --data-dir "$dir/server" --port 0 --secret-key "$server_key" >"$dir/server.out" 2>"$dir/server.err" &
  server_pid=$!
  for _ in $(seq 1 300); do
    grep -q 'listening on' "$dir/server.out" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  server_url=$(sed -n 's/^sessionscope-server listening on //p' "$dir/server.out")
  if [ -z "$server_url" ]; then
    failed=$((failed + 1))
    echo "FAIL $label: sessionscope-server did not start"
    sed 's/^/    /' "$dir/server.err"
  else
    passed=$((passed + 1))
    echo "PASS $label: sessionscope-server listening on $server_url"
    local id="packaging-$label"
    check "$label: responses carry x-sessionscope-version: $version" \
      response_has_version_header "${server_url##*:}" "$server_key"
    check "$label: sessionscope-cli sessions create" creates_session "$id"
    check "$label: sessionscope-cli send gets an answer" sends_and_gets_answer "$id"
    check "$label: sessionscope-cli tail --until turn-complete" tails_to_turn_complete "$id"
    check "$label: sessionscope-server exits 0 on SIGTERM" stops_on_sigterm
  fi

  check "$label: sessionscope reaches its main window (offscreen)" shows_main_window "$dir/desktop"
}

shows_main_window() {
  local err="$1.err"
  run sessionscope --data-dir "$1" --quit-after-shown 4000 2>"$err" || {
    cat "$err"
    return 1
  }
  cat "$err"
  grep -q 'main window shown' "$err" && grep -q ' connected)' "$err"
}

png_is() {
  file -b "$1" | tee /dev/stderr | contains "^PNG image data, $2 x $2,"
}

metainfo_names_version() {
  grep -F "<release version=\"$version\"" "$1"
}

man_page_renders() {
  [ -f "$1" ] || return 1
  zcat "$1" | contains -F "sessionscope $version"
  if command -v man >/dev/null 2>&1; then
    local warnings
    warnings=$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
    [ -z "$warnings" ] || { echo "$warnings"; return 1; }
  fi
}

# systemd-analyze wants the command on disk and the man page it names.
unit_verifies() {
  local unit="$work/sessionscope-server.service"
  sed "s|^ExecStart=sessionscope-server|ExecStart=\"$bindir/sessionscope-server\"|" "$1" >"$unit"
  # It only warns about some mistakes (an unknown Restart= value): any output fails.
  local output
  output=$(MANPATH="$2" systemd-analyze verify --user "$unit" 2>&1) || { echo "$output"; return 1; }
  echo "$output"
  [ -z "$output" ]
}

no_build_rpath() {
  local f out
  for f in "$1"/sessionscope "$1"/sessionscope-server "$1"/sessionscope-cli; do
    out=$(readelf -d "$f" | grep -E 'RPATH|RUNPATH' || true)
    [ -z "$out" ] || { echo "$f: $out"; return 1; }
  done
}

# The files that make the install a desktop application.
check_desktop_integration() {
  local label=$1 prefix=$2 share="$2/share"
  if command -v desktop-file-validate >/dev/null 2>&1; then
    check "$label: sessionscope.desktop passes desktop-file-validate" \
      desktop-file-validate "$share/applications/sessionscope.desktop"
  else
    skip "$label: desktop-file-validate is not installed"
  fi
  local metainfo="$share/metainfo/io.github.sessionscope.metainfo.xml"
  check "$label: metainfo names release $version" metainfo_names_version "$metainfo"
  if command -v appstreamcli >/dev/null 2>&1; then
    check "$label: metainfo passes appstreamcli validate" appstreamcli validate --no-net "$metainfo"
  else
    skip "$label: appstreamcli is not installed"
  fi
  check "$label: scalable icon" test -s "$share/icons/hicolor/scalable/apps/sessionscope.svg"
  local size
  for size in $icon_sizes; do
    check "$label: ${size}x${size} icon" png_is "$share/icons/hicolor/${size}x${size}/apps/sessionscope.png" "$size"
  done
  local page
  for page in sessionscope sessionscope-server sessionscope-cli; do
    check "$label: man page $page(1)" man_page_renders "$share/man/man1/$page.1.gz"
  done
  local unit="$prefix/lib/systemd/user/sessionscope-server.service"
  check "$label: systemd user unit installed" test -s "$unit"
  if command -v systemd-analyze >/dev/null 2>&1; then
    check "$label: systemd-analyze verify --user sessionscope-server.service" unit_verifies "$unit" "$share/man"
  else
    skip "$label: systemd-analyze is not installed"
  fi
}

deb_field_is() {
  local value
  value=$(dpkg-deb -f "$1" "$2")
  echo "$2: $value"
  [ "$value" = "$3" ]
}

deb_depends_on() {
  local depends
  depends=$(dpkg-deb -f "$1" Depends)
  echo "Depends: $depends"
  local dep
  for dep in "${@:2}"; do
    printf '%s\n' "$depends" | tr ',' '\n' | contains "^ *$dep\( \|$\)" || { echo "missing $dep"; return 1; }
  done
}

deb_has_no_maintainer_scripts() {
  local members
  members=$(dpkg-deb --ctrl-tarfile "$1" | tar -t | sed 's|^\./||' | grep -v '^$' | sort)
  echo "$members"
  [ "$members" = "$(printf 'control\nmd5sums')" ]
}

deb_ships() {
  local listing path
  listing=$(dpkg-deb -c "$1" | awk '{ print $6 }')
  for path in "${@:2}"; do
    printf '%s\n' "$listing" | contains -x "\./$path" || { echo "missing $path"; return 1; }
  done
}

build_packages() {
  check "cpack builds the .deb and the .tar.gz" \
    cpack --config "$build/CPackConfig.cmake" -G "DEB;TGZ" -B "$work/packages"
}

test_install() {
  build_packages
  local arch
  arch=$(dpkg --print-architecture)
  local deb="$work/packages/sessionscope_${version}_${arch}.deb"
  local tgz
  tgz=$(find "$work/packages" -maxdepth 1 -name "sessionscope-$version-linux-*.tar.gz" | head -n 1)
  if [ ! -f "$deb" ] || [ -z "$tgz" ]; then
    echo "FAIL no packages to test"
    ls -l "$work/packages" || true
    failed=$((failed + 1))
    return
  fi

  check ".deb: Package sessionscope" deb_field_is "$deb" Package sessionscope
  check ".deb: Version $version" deb_field_is "$deb" Version "$version"
  check ".deb: Section devel" deb_field_is "$deb" Section devel
  check ".deb: Architecture $arch" deb_field_is "$deb" Architecture "$arch"
  check ".deb: dpkg-shlibdeps dependencies and the plugins' packages" \
    deb_depends_on "$deb" libc6 libqt6core6 libqt6widgets6 libqt6httpserver6 libqt6sql6 libqt6sql6-sqlite libqt6svg6
  check ".deb: no maintainer scripts" deb_has_no_maintainer_scripts "$deb"
  check ".deb: ships executables, desktop file, metainfo, man pages, user unit" deb_ships "$deb" \
    usr/bin/sessionscope usr/bin/sessionscope-server usr/bin/sessionscope-cli \
    usr/share/applications/sessionscope.desktop usr/share/metainfo/io.github.sessionscope.metainfo.xml \
    usr/share/man/man1/sessionscope.1.gz usr/lib/systemd/user/sessionscope-server.service

  # As root in CI the package goes into the system for real (and out again);
  # elsewhere, and when a sessionscope package is already installed, it is
  # unpacked into a scratch root.
  local prefix
  if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ] && ! dpkg-query -W sessionscope >/dev/null 2>&1; then
    installed_deb=yes
    check ".deb: dpkg -i" dpkg -i "$deb"
    prefix=/usr
  else
    check ".deb: dpkg -x into a scratch root" dpkg -x "$deb" "$work/root"
    prefix="$work/root/usr"
  fi
  bindir="$prefix/bin"
  check ".deb: binaries carry no rpath" no_build_rpath "$bindir"
  check_desktop_integration ".deb" "$prefix"
  exercise_programs deb
  if [ -n "$installed_deb" ]; then
    check ".deb: dpkg -r" dpkg -r sessionscope
    installed_deb=
  fi

  # Unpacked in one folder, run from another: nothing may point back.
  mkdir -p "$work/unpacked" "$work/any folder"
  check ".tar.gz: unpacks" tar -xzf "$tgz" -C "$work/unpacked"
  local top
  top=$(basename "$tgz" .tar.gz)
  mv "$work/unpacked/$top" "$work/any folder/$top"
  bindir="$work/any folder/$top/bin"
  check ".tar.gz: one top folder $top" test -x "$bindir/sessionscope"
  check ".tar.gz: binaries carry no rpath" no_build_rpath "$bindir"
  check_desktop_integration ".tar.gz" "$work/any folder/$top"
  exercise_programs tarball
}

# Every library an AppDir binary or plugin needs resolves, and every Qt
# library from inside the folder.
appdir_is_self_contained() {
  local appdir=$1 f deps bad=0
  while read -r f; do
    deps=$(ldd "$f" 2>&1)
    if printf '%s\n' "$deps" | contains 'not found'; then
      echo "$f: $(printf '%s\n' "$deps" | grep 'not found')"
      bad=1
    fi
    if printf '%s\n' "$deps" | grep -E 'libQt6|libicu' | contains -vF "$appdir/"; then
      echo "$f: $(printf '%s\n' "$deps" | grep -E 'libQt6|libicu' | grep -vF "$appdir/" | head -n 3)"
      bad=1
    fi
  done < <(find "$appdir/usr/bin" "$appdir/usr/lib" "$appdir/usr/plugins" -type f -name '*' \
    -exec sh -c 'file -b "$1" | grep -q "^ELF"' _ {} \; -print)
  [ "$bad" -eq 0 ]
}

# Qt reports the plugins it loads: the platform plugin must be the bundled one.
# xcb runs under xvfb-run, which proves the bundled X11 libraries.
loads_bundled_platform_plugin() {
  local appdir=$1 platform=$2 err="$work/plugins-$2.err" launcher=()
  if [ "$platform" = xcb ]; then
    launcher=(xvfb-run -a)
  fi
  QT_QPA_PLATFORM=$platform QT_DEBUG_PLUGINS=1 timeout 60 "${launcher[@]}" "$appdir/AppRun" \
    --data-dir "$work/plugins-$platform" --quit-after-shown 500 2>"$err" || { tail -n 20 "$err"; return 1; }
  grep 'main window shown' "$err" &&
    grep 'loaded library' "$err" | grep "libq$platform" | tee /dev/stderr | contains -F "$appdir/usr/plugins/platforms/"
}

apprun_symlink_starts_cli() {
  mkdir -p "$work/links"
  ln -sf "$1/AppRun" "$work/links/sessionscope-cli"
  "$work/links/sessionscope-cli" --version | contains -F "sessionscope-cli $version"
}

bundled_from_debian_packages() {
  local manifest="$1/usr/share/doc/sessionscope/bundled-libraries.txt"
  cat "$manifest"
  grep -q '^libQt6Core\.so\.6 libqt6core6 ' "$manifest" && grep -q '^libQt6Widgets\.so\.6 libqt6widgets6 ' "$manifest"
}

test_appdir() {
  check "packaging/appdir.sh builds the AppDir" "$source_dir/packaging/appdir.sh" "$build" "$work/packages"
  local arch name
  arch=$(uname -m)
  name="sessionscope-$version-$arch.AppDir"
  mkdir -p "$work/any folder"
  check "AppDir: its .tar.gz unpacks" tar -xzf "$work/packages/$name.tar.gz" -C "$work/any folder"
  local appdir="$work/any folder/$name"
  check "AppDir: AppRun, desktop file and icon at the top" \
    test -x "$appdir/AppRun" -a -f "$appdir/sessionscope.desktop" -a -f "$appdir/.DirIcon"
  check "AppDir: libraries recorded with their Debian packages" bundled_from_debian_packages "$appdir"
  check "AppDir: every ELF file resolves, Qt from inside the folder" appdir_is_self_contained "$appdir"
  check "AppDir: the bundled offscreen platform plugin" loads_bundled_platform_plugin "$appdir" offscreen
  if command -v xvfb-run >/dev/null 2>&1; then
    check "AppDir: the bundled xcb platform plugin (xvfb-run)" loads_bundled_platform_plugin "$appdir" xcb
  else
    skip "AppDir: xvfb-run is not installed"
  fi
  check "AppDir: a symlink named sessionscope-cli starts the CLI" apprun_symlink_starts_cli "$appdir"
  apprun="$appdir/AppRun"
  exercise_programs appdir
}

case "$mode" in
  install) test_install ;;
  appdir) test_appdir ;;
  *)
    echo "package_test: unknown mode $mode" >&2
    exit 2
    ;;
esac

echo "$mode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
