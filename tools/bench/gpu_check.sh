#!/usr/bin/env bash
# The opt-in GPU checks, run on a CUDA machine from prebuilt binaries (the GPU machine has no Rust
# toolchain and no network). Build here (no CUDA toolkit needed):
#   CUDARC_CUDA_VERSION=13000 cargo build --release --example vae_bench --features cuda
#   CUDARC_CUDA_VERSION=13000 cargo test --release --no-run -p ultrares-vae -p ultrares-lsr \
#     -p ultrares-rna -p ultrares-wavelet --test it --features \
#     ultrares-vae/cuda,ultrares-lsr/cuda,ultrares-rna/cuda,ultrares-wavelet/cuda,ultrares-wavelet/ndarray
# then pack the executables as .gpu/bins.tar.xz (each crate's `it` test binary as it-rna, it-wavelet,
# it-vae, it-lsr, and vae_bench) and diffusers' wheel in .whl/, and run this script in the repository root there:
#   tools/bench/gpu_check.sh tests|bench [OUT]
# `tests`: the device and golden tests on CUDA. `bench`: vae_bench's seamless and diffusers-tiled
# decodes of a 512² latent (4096² image) and diffusers' own, with the GPU memory polled by
# nvidia-smi; `seamless`: only the seamless decodes.
set -u
mode=${1:-tests}
out=${2:-/tmp/gpu-out}
mkdir -p "$out" /tmp/bins
tar xJf .gpu/bins.tar.xz -C /tmp/bins
# The test binaries find their fixtures under the build machine's CARGO_MANIFEST_DIR.
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
peak() { # CMD...: runs it with nvidia-smi polling every 50 ms; prints the peak used memory
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$out/smi.txt" &
  local p=$!
  sleep 1
  local base
  base=$(tail -1 "$out/smi.txt")
  "$@"
  local rc=$?
  kill $p
  echo "  nvidia-smi: used before ${base} MiB, peak $(sort -n "$out/smi.txt" | tail -1) MiB (rc $rc)"
}
case $mode in
tests)
  # rna and wavelet: their device tests; vae and lsr: their golden tests on CUDA.
  for t in rna:device:: wavelet:device:: lsr:golden:: vae:golden::; do
    b=it-${t%%:*} f=${t#*:}
    echo "== $b $f"
    timeout 240 /tmp/bins/$b "$f" 2>&1 | tee "$out/$b.log" | grep -E "^test |test result|panicked|error" | tail -40
  done
  ;;
bench | seamless)
  # CubeCL autotunes every new matmul/conv shape (its cache lives in ./target/): with the default
  # level the first diffusers-tiled 512² decode took 280 s, the second 9.6 s. Minimal autotuning,
  # and a 1024² decode first so that the tile shapes are tuned before the timed 4096² run.
  export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
  echo "== ultrares seamless 128 1"
  peak timeout 150 /tmp/bins/vae_bench seamless 128 1 2>&1
  echo "== ultrares seamless 512 2"
  peak timeout 400 /tmp/bins/vae_bench seamless 512 2 2>&1
  [ "$mode" = seamless ] && exit 0
  echo "== ultrares diffusers 512 2"
  peak timeout 300 /tmp/bins/vae_bench diffusers 512 2 2>&1
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  for c in "diffusers 512 2"; do
    echo "== diffusers $c"
    PYTHONPATH=/tmp/site DEVICE=cuda peak timeout 200 python3 tools/bench/vae_reference.py $c 2>&1 | grep -v Warning
  done
  ;;
esac
