#!/usr/bin/env bash
# Set everything up and run the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pknet validate examples/*/spec.yaml
.venv/bin/pknet run examples/kpnn_tcr/spec.yaml --out runs/kpnn-tcr/demo --overwrite
