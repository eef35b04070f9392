#!/bin/bash
# Runs every pipeline benchmark once, briefly, so the binary keeps building and running.
set -euo pipefail
"$1" --benchmark_min_time=0.01 --benchmark_filter='Batch|Decode'
