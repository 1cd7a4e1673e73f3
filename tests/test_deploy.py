"""Static checks of the container deployment files (Dockerfile, docker-compose.yml, .dockerignore).

No Docker engine is available where the tests run, so the files are parsed and checked
as data; `docker compose config` runs only when the compose CLI happens to be installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

TORCH_PIN = "torch==2.13.0"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            # Docker drops comment lines, also inside a continued instruction.
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return out


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    assert instructions, "Dockerfile is empty"
    return instructions


def _image_tag(ref: str) -> str | None:
    """The tag of an image reference (`repo[:tag][@digest]`); None when it has no tag."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1]


def _is_pinned(ref: str) -> bool:
    if "@sha256:" in ref:
        return True
    tag = _image_tag(ref)
    return bool(tag) and tag != "latest" and "$" not in ref


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        parsed: dict[str, str | None] = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            parsed[key] = value if sep else None
        return parsed
    return {str(k): (None if v is None else str(v)) for k, v in env.items()}


def _published_ports(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(host_ip, host_port, container_port) for every published port of a service."""
    ports: list[tuple[str | None, str, str]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            host_ip = entry.get("host_ip")
            ports.append((host_ip, str(entry.get("published", "")), str(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]  # drop /tcp, /udp
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            ports.append((parts[0].strip("[]"), parts[1], parts[2]))
        elif len(parts) == 2:
            ports.append((None, parts[0], parts[1]))
        else:
            ports.append((None, "", parts[0]))
    return ports


def _volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) for each volume of a service, short or long syntax."""
    out: list[tuple[str, str]] = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((str(entry.get("source", "")), str(entry["target"])))
            continue
        # `source:target[:mode]`; the source may hold `${VAR:-default}`, which has a colon.
        match = re.fullmatch(r"(\$\{[^}]*\}|[^:]*):([^:]+)(?::[^:]*)?", str(entry))
        assert match, f"cannot parse volume entry {entry!r}"
        out.append((match.group(1), match.group(2)))
    return out


# --------------------------------------------------------------------------- self-checks


def test_helpers_parse_the_syntaxes_they_claim() -> None:
    assert _image_tag("qdrant/qdrant:v1.19.0") == "v1.19.0"
    assert _image_tag("localhost:5000/qdrant") is None
    assert not _is_pinned("qdrant/qdrant")
    assert not _is_pinned("qdrant/qdrant:latest")
    assert _is_pinned("qdrant/qdrant@sha256:" + "0" * 64)
    assert _published_ports({"ports": ["127.0.0.1:1:2", "3:4", {"target": 5, "published": 6}]}) == [
        ("127.0.0.1", "1", "2"),
        (None, "3", "4"),
        (None, "6", "5"),
    ]
    assert _volumes({"volumes": ["${P:-.}:/data", "v:/s:ro"]}) == [
        ("${P:-.}", "/data"),
        ("v", "/s"),
    ]
    assert _instructions("FROM a\n# c\nRUN x \\\n  # inner\n  && y\n") == [
        ("FROM", "a"),
        ("RUN", "x && y"),
    ]


# --------------------------------------------------------------------------- compose


def test_compose_defines_both_services(services: dict[str, Any]) -> None:
    assert "qdrant" in services
    assert "memsync" in services


def test_qdrant_image_is_pinned(services: dict[str, Any]) -> None:
    image = services["qdrant"].get("image", "")
    assert image.split(":", 1)[0].split("@", 1)[0] == "qdrant/qdrant", image
    assert _is_pinned(image), f"qdrant image must carry a fixed version tag, not {image!r}"
    tag = _image_tag(image)
    if tag is not None:
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"expected an exact release tag: {tag!r}"


def test_qdrant_has_a_usable_healthcheck(services: dict[str, Any]) -> None:
    check = services["qdrant"].get("healthcheck")
    assert isinstance(check, dict), "qdrant needs a healthcheck (memsync waits on it)"
    assert not check.get("disable"), "qdrant healthcheck is disabled"
    test = check.get("test")
    assert test, "qdrant healthcheck has no test"
    command = " ".join(test) if isinstance(test, list) else str(test)
    assert command.strip() != "NONE"
    # The official image ships neither curl nor wget: such a check would never pass.
    words = set(re.findall(r"[\w.-]+", command))
    assert not words & {"curl", "wget", "nc"}, f"tool missing from the qdrant image: {command}"
    assert "6333" in command, "the healthcheck should probe Qdrant's HTTP port"
    if isinstance(test, list) and test[0] == "CMD-SHELL" and "/dev/tcp" in command:
        # /bin/sh is dash in the image; /dev/tcp is a bash feature.
        assert "bash" in command, "/dev/tcp needs bash, not /bin/sh"


def test_qdrant_storage_is_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    volumes = _volumes(services["qdrant"])
    sources = [src for src, target in volumes if target.rstrip("/") == "/qdrant/storage"]
    assert sources, "qdrant must keep /qdrant/storage on a volume"
    declared = compose.get("volumes") or {}
    assert sources[0] in declared, f"{sources[0]!r} is not a named volume declared at top level"


def test_memsync_waits_for_healthy_qdrant(services: dict[str, Any]) -> None:
    depends = services["memsync"].get("depends_on")
    assert isinstance(depends, dict), "memsync depends_on must use the long form with a condition"
    assert depends.get("qdrant", {}).get("condition") == "service_healthy"


def test_memsync_environment(services: dict[str, Any]) -> None:
    env = _environment(services["memsync"])
    url = env.get("MEMSYNC_QDRANT_URL")
    assert url, "MEMSYNC_QDRANT_URL must point memsync at the qdrant service"
    parts = urlsplit(url)
    assert parts.scheme == "http"
    assert parts.hostname == "qdrant", f"not the compose service: {url}"
    assert parts.port == 6333, f"not Qdrant's HTTP port: {url}"

    data_dir = env.get("MEMSYNC_DIR")
    assert data_dir, "MEMSYNC_DIR must be set"
    mounts = {target.rstrip("/") for _, target in _volumes(services["memsync"])}
    assert any(data_dir == m or data_dir.startswith(m + "/") for m in mounts), (
        f"MEMSYNC_DIR={data_dir} is not inside a mounted folder {sorted(mounts)}"
    )

    token = env.get("MEMSYNC_API_TOKEN")
    assert token is not None and token.startswith("${MEMSYNC_API_TOKEN"), (
        "MEMSYNC_API_TOKEN must come from the host environment, never be written in the file"
    )
    assert ":?" not in token and not token.startswith("${MEMSYNC_API_TOKEN?"), (
        "a required-variable form makes `docker compose config` and `run` fail when unset"
    )


def test_memsync_mounts_the_project_folder(services: dict[str, Any]) -> None:
    volumes = dict((target.rstrip("/"), src) for src, target in _volumes(services["memsync"]))
    assert "/data" in volumes, "the project folder must be mounted at /data"
    assert "MEMSYNC_PROJECT" in volumes["/data"], volumes["/data"]


def test_published_ports_bind_to_loopback(services: dict[str, Any]) -> None:
    seen = 0
    for name, service in services.items():
        for host_ip, host_port, target in _published_ports(service):
            seen += 1
            assert host_ip == "127.0.0.1", (
                f"{name} publishes {host_port}:{target} on all interfaces; bind it to 127.0.0.1"
            )
    assert seen, "expected published ports"
    containers = {t for _, _, t in _published_ports(services["qdrant"])}
    assert "6333" in containers
    assert "8765" in {t for _, _, t in _published_ports(services["memsync"])}


def test_memsync_builds_from_the_dockerfile(services: dict[str, Any]) -> None:
    build = services["memsync"].get("build")
    assert build, "memsync must be built from the project's Dockerfile"
    if isinstance(build, str):
        context, dockerfile_name = build, "Dockerfile"
    else:
        context = build.get("context", ".")
        dockerfile_name = build.get("dockerfile", "Dockerfile")
    path = (COMPOSE_FILE.parent / context / dockerfile_name).resolve()
    assert path == DOCKERFILE.resolve(), f"builds {path}, expected {DOCKERFILE}"
    assert path.is_file()


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_is_pinned(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for keyword, args in dockerfile if keyword == "FROM"]
    assert froms, "no FROM"
    for args in froms:
        image = next(w for w in args.split() if not w.startswith("--"))
        assert _is_pinned(image), f"base image must carry a fixed tag: {image!r}"
    final = next(w for w in froms[-1].split() if not w.startswith("--"))
    assert final.startswith("python:3.11"), f"expected a python:3.11 base, got {final!r}"


def _run_index(dockerfile: list[tuple[str, str]], predicate: Any) -> int:
    for index, (keyword, args) in enumerate(dockerfile):
        if keyword == "RUN" and predicate(args):
            return index
    return -1


def _installs_project(args: str) -> bool:
    words = shlex.split(args.replace("&&", " && "))
    for i, word in enumerate(words):
        if word == "install" and i and words[i - 1] == "pip":
            following = words[i + 1 :]
            targets = following[: following.index("&&")] if "&&" in following else following
            if any(t in {".", "./"} or t.startswith(".[") for t in targets):
                return True
    return False


def test_dockerfile_installs_cpu_torch_before_the_project(
    dockerfile: list[tuple[str, str]],
) -> None:
    torch_at = _run_index(dockerfile, lambda a: TORCH_PIN in a.split())
    project_at = _run_index(dockerfile, _installs_project)
    assert torch_at >= 0, f"{TORCH_PIN} must be installed explicitly"
    assert project_at >= 0, "the project must be installed with `pip install .`"
    assert torch_at < project_at, "torch must be installed before the project"
    torch_run = dockerfile[torch_at][1]
    assert "download.pytorch.org/whl/cpu" in torch_run, "torch must come from the CPU index"
    # --index-url would take everything from the PyTorch index; it must stay an extra index.
    assert "--extra-index-url" in torch_run
    copies = [i for i, (k, _) in enumerate(dockerfile) if k in {"COPY", "ADD"}]
    assert copies and min(copies) < project_at, "the source must be copied before installing"


def _env_vars(dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in dockerfile:
        if keyword != "ENV":
            continue
        words = shlex.split(args)
        if words and "=" not in words[0]:  # legacy `ENV KEY value`
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def test_dockerfile_keeps_the_model_offline(dockerfile: list[tuple[str, str]]) -> None:
    env = _env_vars(dockerfile)
    assert env.get("HF_HUB_OFFLINE") == "1"
    assert env.get("TRANSFORMERS_OFFLINE") == "1"


def test_dockerfile_runs_as_non_root(dockerfile: list[tuple[str, str]]) -> None:
    users = [args.split()[0] for keyword, args in dockerfile if keyword == "USER"]
    assert users, "the image must switch to an unprivileged USER"
    final = users[-1].split(":", 1)[0]
    assert final not in {"root", "0"}, f"final USER is {users[-1]!r}"


def test_dockerfile_workdir_is_data(dockerfile: list[tuple[str, str]]) -> None:
    workdirs = [args for keyword, args in dockerfile if keyword == "WORKDIR"]
    assert workdirs and workdirs[-1].rstrip("/") == "/data"


def test_dockerfile_command_is_memsync(dockerfile: list[tuple[str, str]]) -> None:
    commands = [(k, a) for k, a in dockerfile if k in {"CMD", "ENTRYPOINT"}]
    assert commands, "no CMD/ENTRYPOINT"
    assert all(k != "ENTRYPOINT" for k, _ in commands), (
        "an ENTRYPOINT would break `docker compose run memsync memsync sync`"
    )
    keyword, args = commands[-1]
    argv = yaml.safe_load(args) if args.startswith("[") else shlex.split(args)
    assert isinstance(argv, list) and argv, args
    assert argv[0] == "memsync", f"{keyword} must run memsync: {args}"
    assert argv[1:2] == ["serve"]
    assert "--port" in argv and argv[argv.index("--port") + 1] == "8765"


# --------------------------------------------------------------------------- .dockerignore


def test_dockerignore_keeps_local_state_out() -> None:
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing"
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    for required in (".venv", ".git", ".memsync"):
        assert required in patterns or f"**/{required}" in patterns, f"{required} not ignored"
    # The build needs these; ignoring them would break `pip install .`.
    for needed in ("pyproject.toml", "README.md", "sync", "embeddings", "service", "*", "**"):
        assert needed not in patterns, f".dockerignore must not exclude {needed}"


# --------------------------------------------------------------------------- docker compose


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("docker compose (plugin or docker-compose) is not installed")
    env = {k: v for k, v in os.environ.items() if k not in {"MEMSYNC_API_TOKEN", "MEMSYNC_PROJECT"}}
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    if result.returncode != 0 and re.search(
        r"daemon|docker engine|docker\.sock", result.stderr, re.IGNORECASE
    ):
        pytest.skip(f"docker compose config needs an engine here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
