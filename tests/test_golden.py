"""Golden reports: every architecture's table and JSON report, reviewed in the diff."""

from __future__ import annotations

import json

import pytest
from conftest import ARCHITECTURES, ROOT, architecture_files, check_golden

import cnndsl

GOLDEN = ROOT / "tests" / "golden"


pytestmark = pytest.mark.usefixtures("at_repo_root")


@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_table_report(path, update_goldens):
    network = cnndsl.load(str(path.relative_to(ROOT)))
    check_golden(GOLDEN / f"{path.stem}.txt", network.report("table") + "\n", update_goldens)


@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_json_report(path, update_goldens):
    network = cnndsl.load(str(path.relative_to(ROOT)))
    text = json.dumps(network.to_dict(), indent=1) + "\n"
    check_golden(GOLDEN / f"{path.stem}.json", text, update_goldens)


def test_goldens_have_architectures():
    """No golden file outlives its architecture."""
    stems = {p.stem for p in architecture_files()}
    orphans = [p.name for p in GOLDEN.glob("*") if p.stem not in stems]
    assert not orphans, f"golden files without an architecture: {orphans}"
    assert ARCHITECTURES.is_dir()
