#!/usr/bin/env bash
# Runs Patchwork's tests on a fresh Debian/Ubuntu machine: installs what they need
# (lavapipe, Mesa's software Vulkan driver, for the wgpu tests), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in mesa-vulkan-drivers libvulkan1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (for the wgpu tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# wgpu and winit want a runtime dir even headless.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR}" ]; then
  export XDG_RUNTIME_DIR="$(mktemp -d)"
  chmod 700 "$XDG_RUNTIME_DIR"
fi

cargo test --workspace --locked "$@"
