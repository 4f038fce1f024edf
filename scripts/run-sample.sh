#!/usr/bin/env bash
# The main job on the bundled sample: installs what is missing, builds the engine, reconstructs
# assets/sample (4 synthetic views made by assets/sample/make-sample.ts) into out/sample.
set -euo pipefail
cd "$(dirname "$0")/.."
VGGT_SETUP_FULL=0 bash scripts/setup.sh
node bin/vggt-workbench.mjs reconstruct assets/sample --out out/sample "$@"
