"""Shared fixtures. `pytest --update-goldens` rewrites golden files (review the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = ROOT / "architectures"
SHARED = ROOT.parent / "shared"
# The figures of shared/examples/expected.json; a copy travels with the repo
# (tests/data) so the suite runs without shared/ beside the checkout.
EXPECTED_JSON = SHARED / "examples" / "expected.json"
if not EXPECTED_JSON.exists():
    EXPECTED_JSON = ROOT / "tests" / "data" / "expected.json"

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture
def at_repo_root(monkeypatch):
    """Sources are reported relative to the working directory: run from the repo root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")


def architecture_files() -> list[Path]:
    """Every compilable program in architectures/ (blocks/ holds shared blocks only)."""
    return sorted(p for p in ARCHITECTURES.glob("*.cnn"))


def check_golden(path: Path, text: str, update: bool) -> None:
    """Compare `text` with the golden file at `path`, or rewrite it with --update-goldens."""
    if update or not path.exists():
        if not update:
            pytest.fail(f"missing golden file {path.relative_to(ROOT)}; run pytest --update-goldens and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    expected = path.read_text()
    assert text == expected, f"{path.relative_to(ROOT)} differs; rerun with --update-goldens if the change is intended"


def interruptible() -> None:
    """`preexec_fn` for a child that a test stops with SIGINT: a shell that starts the suite in the
    background (`cmd &` without job control) leaves SIGINT ignored, and children inherit that."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


_ZOO: dict = {}


def zoo_network(stem: str, **overrides):
    """`architectures/STEM.cnn` compiled with `overrides`, once per test session."""
    import cnndsl

    key = (stem, tuple(sorted(overrides.items())))
    if key not in _ZOO:
        _ZOO[key] = cnndsl.load(str(ARCHITECTURES / f"{stem}.cnn"), overrides=overrides or None)
    return _ZOO[key]


def dims(shape) -> list:
    """A report shape without its batch dimension `N`."""
    assert shape[0] == "N"
    return list(shape[1:])


IMPORT_MODELS = Path(__file__).parent / "import_models"


def imported(tmp_path, name: str, *extra: str) -> str:
    """`cnndsl import tests/import_models/NAME` (with `extra` options): the program's text."""
    from cnndsl import cli

    out = tmp_path / f"{Path(name).stem}.cnn"
    assert cli.main(["import", str(IMPORT_MODELS / name), "-o", str(out), *extra]) == 0
    return out.read_text()
