#!/usr/bin/env bash
# Builds the patchwork binary with the `spirv` feature — on Vulkan, cubecl compiles kernels
# to SPIR-V (and keeps them in the kernel cache) instead of WGSL — into target-spirv/, for
# the SPIR-V rows of `SIDE_BY_SIDE=1 PATCHWORK_SPIRV=… bash scripts/gpu-session.sh`. Same
# source and profile as the default build; only burn's `vulkan` feature is added. A full
# build of its own (its burn features differ): ~20 minutes on 2 cores.
#
#   bash scripts/build-spirv-binary.sh && strip -o /tmp/patchwork-spirv target-spirv/debug/patchwork
#
# Not for lavapipe: Debian 12's (Mesa 22.3.6) crashes compiling these kernels
# (docs/benchmarks.md, "GPU kernels: the kernel cache, SPIR-V, CUDA").
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --features spirv --target-dir target-spirv
target-spirv/debug/patchwork devices | grep '^backend'
