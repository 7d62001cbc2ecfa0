"""A fresh virtual environment to benchmark in, installed the way a user installs.

    python benchmarks/make_venv.py FOLDER            # cnndsl's dependencies pinned as here
    python benchmarks/make_venv.py FOLDER --newest   # the newest releases pip can reach
    python benchmarks/run_all.py --python FOLDER/bin/python

Pinned: each dependency (and ml_dtypes, which onnx pulls in) at the version
installed in the interpreter that runs this script (the development setup).
Newest: `pip install --upgrade --upgrade-strategy eager`, without pip's configured
constraints, so every dependency of cnndsl comes at its newest release. The peers
of the table (torch, torchinfo) are pinned in both, to their versions here (an
unpinned torch is a multi-gigabyte download): they are what cnndsl is compared
with, not what it runs on. Prints the versions installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPENDENCIES = ("lark", "networkx", "numpy", "onnx", "protobuf", "graphviz", "safetensors", "onnxruntime")
PEERS = ("torch", "torchinfo")
# pulled in by onnx, and the cause of the speed issue (its import time grew tenfold in 0.7.0):
# pinned too, or the pinned run would measure whatever release pip picks today
TRANSITIVE = ("ml_dtypes",)


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def pinned(names) -> list[str]:
    return [f"{name}=={installed(name)}" if installed(name) else name for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to make the environment (must not exist)")
    parser.add_argument("--newest", action="store_true", help="cnndsl's dependencies at their newest releases")
    parser.add_argument("--no-peers", action="store_true", help="leave out torch and torchinfo")
    args = parser.parse_args()
    folder = Path(args.folder)
    if folder.exists():
        sys.exit(f"{folder} exists: choose a new folder")
    venv.create(folder, with_pip=True)
    python = str(folder / "bin" / "python")
    env = dict(os.environ)
    if args.newest:
        env["PIP_CONSTRAINT"] = ""  # pip's configured caps apply to the pinned run only
        wanted = ["--upgrade", "--upgrade-strategy", "eager", str(ROOT), *DEPENDENCIES]
    else:
        wanted = [str(ROOT), *pinned(DEPENDENCIES + TRANSITIVE)]
    subprocess.run([python, "-m", "pip", "install", "-q", *wanted], check=True, env=env)
    if not args.no_peers:
        subprocess.run([python, "-m", "pip", "install", "-q", *pinned(PEERS)], check=True)
    script = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'], d.version)"
    listing = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True).stdout
    names = {*DEPENDENCIES, *TRANSITIVE, *PEERS, "cnndsl"}
    print("\n".join(sorted(line for line in listing.splitlines() if line.split()[0].lower() in names)))


if __name__ == "__main__":
    main()
