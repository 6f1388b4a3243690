#!/usr/bin/env bash
# The check on a lent GPU (see docs/cuda.md, "On a real GPU"). Prepare here with `make device-bin`, then run
# this script there, from the repository root, with bin/device carried: it needs no Go toolchain and no
# CUDA toolkit, only the driver. Results go to $OUT (or ./device-out) and a short table to standard output.
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
bin=bin/device
step() { printf '\n== %s\n' "$*"; }

step "nvidia-smi"; nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt" | head -20
step "matmix devices"; "$bin/matmix" devices 2>&1 | tee "$out/devices.txt"

# The conformance suite and the backend tests on the real driver, against the CPU reference.
step "cuda/backend tests on the driver"
"$bin/backend.test" -test.v -test.count=1 -test.timeout 300s > "$out/backend-test.txt" 2>&1; rc_backend=$?
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS|FAIL|ok)' "$out/backend-test.txt" | grep -v '=== RUN' | tail -40
step "cuda/device and cuda/driver tests on the driver"
"$bin/device.test" -test.count=1 -test.timeout 120s > "$out/device-test.txt" 2>&1; rc_device=$?; tail -3 "$out/device-test.txt"
"$bin/driver.test" -test.count=1 -test.timeout 120s > "$out/driver-test.txt" 2>&1; rc_driver=$?; tail -3 "$out/driver-test.txt"

step "benchmarks (cuda backend)"
"$bin/matmix" bench monarch --backend cuda --batch 16384 --n 4096 --blocks 64 --max-time 20 --json "$out/monarch.json" 2>&1 | tail -4
"$bin/matmix" bench gla --backend cuda --form recurrent --b 8 --t 4096 --h 16 --k 128 --v 128 --max-time 20 --json "$out/gla.json" 2>&1 | tail -4

step "GPU peers (PyTorch, cuBLAS, cuSPARSE)"
timeout 240 python3 "$bin/gpu_peers.py" monarch --batch 16384 --n 4096 --blocks 64 2>&1 | tee "$out/peers.jsonl"
timeout 240 python3 "$bin/gpu_peers.py" gla --b 8 --t 4096 --h 16 --k 128 --v 128 2>&1 | tee -a "$out/peers.jsonl"

step "summary"
printf '| check | status |\n|---|---|\n| cuda/backend tests | %s |\n| cuda/device tests | %s |\n| cuda/driver tests | %s |\n' \
  "$rc_backend" "$rc_device" "$rc_driver"
exit $(( rc_backend || rc_device || rc_driver ))
