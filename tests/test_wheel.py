"""Installed as users install it: the wheel, not the checkout.

The wheel is built offline (no build isolation: the dev venv's setuptools) from a copy of the
sources, and installed --no-deps into a fresh virtualenv; a .pth line lends that venv the dev
venv's site-packages for the dependencies (pyspark, duckdb, …) so no test downloads 400 MB. The
commands then run from a folder outside the repo, where nothing of the checkout can be found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and a venv, runs the demo
REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "orderpipe", "templates", "glue_scripts")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel (non-editable); returns its bin folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", source,
        cwd=tmp)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("orderpipe-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", "-q", wheel, cwd=tmp)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp).strip())  # fmt: skip
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def test_the_installed_wheel_runs_the_demo_and_queries_outside_the_repo(
    installed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERPIPE_", "PYTHON"))}
    home = str(tmp_path / "home")

    where = run(installed / "python", "-c", "import orderpipe; print(orderpipe.__file__)",
                cwd=elsewhere, env=env)  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.parent), where  # the wheel, not the repo
    assert "orderpipe" in run(installed / "python", "-m", "orderpipe", "--version",
                              cwd=elsewhere, env=env)  # fmt: skip

    orderpipe = installed / "orderpipe"
    run(orderpipe, "--home", home, "demo", "--orders", "2000", cwd=elsewhere, env=env)
    query = [orderpipe, "--home", home, "query", "top-orders", "--format", "json"]
    top = json.loads(run(*query, cwd=elsewhere, env=env))
    assert top and {"invoiceno", "totalusd"} <= set(top[0])
    run(orderpipe, "--home", home, "report", "--out", "report.html", cwd=elsewhere, env=env)
    assert "Chart.js v4" in (elsewhere / "report.html").read_text()  # the wheel carries it

    # The bundled Online Retail sample replays (its £ and day-first dates included).
    replayed = subprocess.run(
        [str(orderpipe), "--home", home, "generate", "--replay", "sample", "--no-ship"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert "wrote 3,000 orders" in replayed.stderr and "2010-12-17" in replayed.stderr


def test_the_generator_package_for_ec2_builds_from_the_installed_wheel(
    installed: Path, tmp_path: Path
) -> None:
    """`up` uploads orderpipe for the EC2 generator; from a wheel there is no checkout to pack,
    so it is packed from the installed package and must install as the instance installs it."""
    tarball = tmp_path / "orderpipe.tar.gz"
    pack = (
        "import sys; from orderpipe.targets.aws.artifacts import source_tarball; "
        "open(sys.argv[1], 'wb').write(source_tarball())"
    )
    run(installed / "python", "-c", pack, tarball, cwd=tmp_path)
    instance = tmp_path / "instance"
    run(sys.executable, "-m", "venv", "--without-pip", instance, cwd=tmp_path)
    python = instance / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).strip())  # fmt: skip
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    run(*pip, "install", "--no-deps", "--no-build-isolation", "-q", tarball, cwd=tmp_path)
    check = (
        "from orderpipe.paths import TEMPLATES, SAMPLE_CSV; import orderpipe; "
        "assert (TEMPLATES / 'user_data.sh').is_file() and SAMPLE_CSV.is_file(); "
        "print(orderpipe.__file__)"
    )
    assert str(instance) in run(python, "-c", check, cwd=tmp_path)


def test_the_wheel_carries_every_template_script_and_data_file(installed: Path) -> None:
    """A file added under templates/, glue_scripts/ or orderpipe/data must reach the wheel
    (setup.py and pyproject.toml's package-data list them)."""
    where = run(installed / "python", "-c", "import orderpipe; print(orderpipe.__file__)",
                cwd=installed)  # fmt: skip
    package = Path(where.strip()).parent
    shipped = {"templates": "templates", "glue_scripts": "glue_scripts", "orderpipe/data": "data"}
    missing = [
        str(path.relative_to(REPO))
        for folder, inside in shipped.items()
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (package / inside / path.relative_to(REPO / folder)).is_file()
    ]
    assert missing == []
