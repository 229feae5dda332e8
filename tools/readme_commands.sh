#!/usr/bin/env bash
# Runs the command lines of README.md's "The two commands" and "The `ultrares` command-line tool"
# sections, in order, in one shell, from the repository root (a fresh clone is the point), and
# prints each command's wall time. Exits non-zero at the first command that fails.
#
#   bash tools/readme_commands.sh            # all of them (≈ 45 min cold on 2 cores)
#   SKIP_TESTS=1 bash tools/readme_commands.sh   # without `cargo test --workspace`
#
# `generate` lines (`--model FOLDER`) are skipped: they need a downloaded pipeline folder. The
# other sections' commands need files that are not bundled (LSRNA and Inception weights,
# an SDXL folder), a GPU, Python (golden fixtures) or the nightly toolchain (fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
script=$(mktemp)
trap 'rm -f "$script"' EXIT
python3 - "$script" <<'PY'
import re, sys
readme = open("README.md", encoding="utf-8").read()
sections = re.split(r"^## ", readme, flags=re.M)
wanted = [s for s in sections if s.startswith("The two commands") or s.startswith("The `ultrares` command-line tool")]
lines = ["set -euo pipefail"]
for sec in wanted:
    for block in re.findall(r"```sh\n(.*?)```", sec, flags=re.S):
        block = re.sub(r"\\\n\s*", " ", block)  # join `\` continuations
        for line in block.splitlines():
            cmd = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
            if not cmd or "--model " in cmd:
                continue  # needs a downloaded SDXL/SD3/Flux folder (see the README)
            if cmd.startswith("cargo test") :
                lines.append('if [ -n "${SKIP_TESTS:-}" ]; then echo "+ %s (skipped)"; else' % cmd)
            lines.append("echo %s" % repr("+ " + cmd))
            lines.append("t=$SECONDS")
            lines.append(cmd)
            lines.append('echo "  ($((SECONDS - t)) s)"')
            if cmd.startswith("cargo test"):
                lines.append("fi")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
bash "$script"
echo "all README commands succeeded in ${SECONDS} s"
