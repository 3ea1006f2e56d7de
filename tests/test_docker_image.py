"""The Docker image and compose file, checked without a Docker daemon (none runs in CI)."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from compose_spec.compose_spec import PyOptions

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "docker" / "app" / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def _packages() -> list[str]:
    """The top-level packages setup.cfg installs (its packages.find include, less the `*`)."""
    include = _setup_cfg()["options.packages.find"]["include"]
    return [line.strip().rstrip("*") for line in include.splitlines() if line.strip()]


def _entry_points() -> dict[str, str]:
    """Console scripts of setup.cfg: name -> 'module:function'."""
    scripts = _setup_cfg()["options.entry_points"]["console_scripts"]
    pairs = (line.split("=", 1) for line in scripts.splitlines() if "=" in line)
    return {name.strip(): target.strip() for name, target in pairs}


def _copy_lines(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context, in order."""
    copies = []
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() != "COPY":
            continue
        arguments = [word for word in words[1:] if not word.startswith("--")]
        assert not any(word.startswith("--from") for word in words), "multi-stage COPY"
        copies.append((arguments[:-1], arguments[-1]))
    return copies


def build_image_tree(target: Path) -> Path:
    """Lay out in `target` the files the Dockerfile copies into its WORKDIR."""
    for sources, destination in _copy_lines(DOCKERFILE):
        into = target / destination
        for source in sources:
            path = REPO / source
            assert path.exists(), f"the Dockerfile copies {source}, which is not in the repo"
            if path.is_dir():
                shutil.copytree(
                    path, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            elif destination.endswith("/"):
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, into / path.name)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, into)
    return target


# Run in the copied tree with `python -S`: no .pth file of this checkout's editable
# install can lend a module the image does not have.
_IMPORT_ALL = """
import json, pkgutil, sys, importlib
root, packages = sys.argv[1], json.loads(sys.argv[2])
seen = []
for name in packages:
    package = importlib.import_module(name)
    seen.append((name, package.__file__))
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        imported = importlib.import_module(module.name)
        seen.append((module.name, imported.__file__))
outside = [pair for pair in seen if not pair[1].startswith(root)]
assert not outside, f"imported from outside the image: {outside}"
print(json.dumps(sorted(name for name, _ in seen)))
"""

_RUN_ENTRY_POINT = """
import importlib, sys
module, function = sys.argv[1].split(":")
sys.argv = [sys.argv[2], *sys.argv[3:]]
sys.exit(getattr(importlib.import_module(module), function)())
"""


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /srv/callcards/app, rebuilt from the Dockerfile's COPY lines."""
    return build_image_tree(tmp_path_factory.mktemp("image") / "app").resolve()


def _image_python(tree: Path, instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python on the image's files only, with this venv's third-party packages."""
    site_packages = sysconfig.get_paths()["purelib"]
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{tree}{os.pathsep}{site_packages}",
        "CALLCARDS_INSTANCE_DIR": str(instance),
        # As docker/callcards.env gives it: webadmin.wsgi refuses the development key.
        "SECRET_KEY": "image-test-" + os.urandom(8).hex(),
        "DATABASE_URL": f"sqlite:///{instance / 'callcards.sqlite3'}",
        "RECORDINGS_DIR": str(instance / "recordings"),
        # What compose mounts for the web service: the repo's etc_asterisk.
        "CALLCARDS_ASTERISK_ETC": str(instance / "asterisk-etc"),
    }
    return subprocess.run(
        [sys.executable, "-S", *args],
        cwd=tree,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_every_package_of_setup_cfg_imports_from_the_image(
    image_tree: Path, tmp_path: Path
) -> None:
    packages = _packages()
    assert "pbx" in packages
    result = _image_python(
        image_tree, tmp_path, "-c", _IMPORT_ALL, str(image_tree), json.dumps(packages)
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert {"pbx.apply", "pbx.endpoints", "webadmin", "fastagi", "callcards.cli"} <= set(imported)


def test_every_entry_point_answers_help_from_the_image(image_tree: Path, tmp_path: Path) -> None:
    for name, target in _entry_points().items():
        result = _image_python(image_tree, tmp_path, "-c", _RUN_ENTRY_POINT, target, name, "--help")
        assert result.returncode == 0, f"{name} --help: {result.stderr}"
        assert f"usage: {name}" in result.stdout


def test_callcards_asterisk_show_works_in_the_image(image_tree: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "etc_asterisk", tmp_path / "asterisk-etc")
    target = _entry_points()["callcards"]
    for command in (["db", "upgrade"], ["seed-demo"], ["asterisk", "show"]):
        result = _image_python(
            image_tree, tmp_path, "-c", _RUN_ENTRY_POINT, target, "callcards", *command
        )
        assert result.returncode == 0, f"callcards {' '.join(command)}: {result.stderr}"
    assert "ModuleNotFoundError" not in result.stderr
    # The demo's published queues, compared with the repo's queues_callcards.conf.
    assert result.stdout.strip()


def test_an_image_without_pbx_is_noticed(tmp_path: Path) -> None:
    """The check above fails on the image the issue found (a Dockerfile without pbx/)."""
    tree = build_image_tree(tmp_path / "app").resolve()
    shutil.rmtree(tree / "pbx")
    result = _image_python(tree, tmp_path, "-c", _IMPORT_ALL, str(tree), json.dumps(_packages()))
    assert result.returncode != 0
    assert "No module named 'pbx'" in result.stderr


def _compose() -> dict[str, object]:
    compose = PyOptions(apply_merge=True).from_yaml(COMPOSE.read_text())
    compose.validate()
    return compose.to_dict()


def test_the_compose_file_is_valid_compose() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"postgres", "migrate", "asterisk", "fastagi", "web", "nightly"}
    for name in ("migrate", "fastagi", "web", "nightly"):
        assert services[name]["build"]["dockerfile"] == "docker/app/Dockerfile"
        assert (REPO / services[name]["build"]["dockerfile"]).is_file()


def test_a_misspelt_compose_key_is_refused() -> None:
    """The validator is strict: a key compose does not know fails, so the test above can fail."""
    text = COMPOSE.read_text().replace(
        "    network_mode: service:asterisk", "    network_mod: service:asterisk", 1
    )
    with pytest.raises(ValueError, match="network_mod"):
        PyOptions(apply_merge=True).from_yaml(text).validate()


def _http_conf_tls_bind() -> tuple[str, int]:
    for line in (REPO / "etc_asterisk" / "http.conf").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "tlsbindaddr":
            host, _, port = value.strip().rpartition(":")
            return host, int(port)
    raise AssertionError("http.conf has no tlsbindaddr")


def test_the_published_wss_port_is_the_one_asterisk_listens_on_for_everyone() -> None:
    host, port = _http_conf_tls_bind()
    # Published from the container, so Asterisk must listen on the container's every address.
    assert host == "0.0.0.0"  # noqa: S104 (the point of the test)
    services = _compose()["services"]
    assert isinstance(services, dict)
    published = {str(item) for item in services["asterisk"]["ports"]}
    assert f"{port}:{port}/tcp" in published
