#!/usr/bin/env bash
# Regenerates every golden fixture of the workspace: bash tools/golden/generate.sh
# Creates tools/golden/.venv with the pinned requirements on first use. Later issues add their
# generators to the list below; generators that need an upstream checkout take its path from an
# environment variable named in their docstring.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
for gen in gen_core.py gen_nn.py gen_text.py gen_clip_vision.py gen_unet.py gen_dit.py gen_rna.py gen_wavelet.py gen_schedulers.py gen_wavediff.py gen_wavediff_train.py gen_metrics.py gen_lsr.py gen_vae.py gen_pipeline.py gen_pipeline_unet.py; do
  echo "== $gen"
  "$here/.venv/bin/python" "$here/$gen"
done
