# Sourced by scripts/run, scripts/test and bench/run: installs the Debian 12
# packages sessionscope needs, and only the ones that are missing.

SESSIONSCOPE_PACKAGES=(
  g++ cmake ninja-build pkg-config
  qt6-base-dev qt6-base-dev-tools qt6-httpserver-dev qt6-websockets-dev qt6-svg-dev
  libqt6sql6-sqlite qtkeychain-qt6-dev libgl-dev
  nlohmann-json3-dev libbenchmark-dev
  clang libclang-rt-14-dev
  xvfb xauth
  # scripts/package and the packaging tests: dpkg-shlibdeps, the AppDir, validators
  dpkg-dev file patchelf desktop-file-utils appstream
)

sessionscope_install_deps() {
  # An entry is a Debian package name, or COMMAND=PACKAGE for tools that may
  # come from elsewhere (node and npm often do): then the package is only
  # installed when the command is missing.
  local missing=()
  local entry pkg
  for entry in "${SESSIONSCOPE_PACKAGES[@]}" "$@"; do
    if [[ "$entry" == *=* ]]; then
      pkg=${entry#*=}
      if command -v "${entry%%=*}" >/dev/null 2>&1; then
        continue
      fi
    else
      pkg=$entry
    fi
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "sessionscope: installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

sessionscope_jobs() {
  nproc 2>/dev/null || echo 2
}
