#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (idempotent), then builds the engine.
# Debian packages: the engine's libraries and tools (iproute2: the multi-host namespace tests;
# clang + compiler-rt: the libFuzzer harnesses; ffmpeg: video input, docs/VIDEO-AND-PLANNING.md), Chromium for end-to-end tests, and the real tools
# the export tests exercise (COLMAP, Open3D).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake libdnnl-dev libopenmpi-dev openmpi-bin libpng-dev libjpeg62-turbo-dev
      nlohmann-json3-dev zlib1g-dev libgtest-dev iproute2 clang libclang-rt-14-dev ffmpeg)
if [ "${VGGT_SETUP_FULL:-1}" = 1 ]; then
  pkgs+=(chromium colmap python3-open3d fonts-dejavu-core)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # Electron's own binary cannot be downloaded here; its types are all the build needs.
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building the native engine"
bash native-engine/scripts/build.sh >/dev/null
