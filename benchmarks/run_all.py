"""Every speed goal in one run: prints the tables of docs/benchmarks.md.

    python benchmarks/run_all.py [--runs 7] [--quick] [--write docs/benchmarks-run.md] [--python VENV/bin/python]

`--python` runs every command with another interpreter: a fresh virtual environment
made by `benchmarks/make_venv.py` (pinned or `--newest` dependencies), whose versions
the table then names.

Whole-process wall times on this machine (median of `--runs` fresh processes, with
the spread as min..max; commands compared with each other run in turns), side by side
with what users would run instead where a peer exists. The peers need
`pip install -e '.[bench]'`; a missing peer is printed as such, never guessed. Not part
of the test suite: no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_report import COMPETITORS, synthetic  # noqa: E402

PYTHON = sys.executable
LENET = ROOT / "architectures" / "lenet5.cnn"
RESNET50 = ROOT / "architectures" / "resnet50.cnn"
VERSIONS = ("lark", "numpy", "onnx", "ml_dtypes", "protobuf", "onnxruntime", "torch", "torchinfo")


class Sample:
    """Wall times of one command over several fresh processes."""

    def __init__(self, times: list[float] | None):
        self.times = times

    @property
    def ok(self) -> bool:
        return bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def cell(self) -> str:
        if not self.ok:
            return "not installed or failed"
        return f"{self.median:.3f} s ({min(self.times):.3f}..{max(self.times):.3f})"


# Measured as users run it: with Python's bytecode cache (a shell that sets PYTHONDONTWRITEBYTECODE
# would otherwise recompile every module of every process, ~0.2 s of each start-up).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


class Command:
    """One command to time: its argv, an untimed step `before(attempt)` ahead of each run, extra environment."""

    def __init__(self, argv: list[str], before=None, env: dict | None = None):
        self.argv, self.before, self.env = argv, before, env or {}


def timed_together(commands: list[Command], runs: int, timeout: float = 600) -> list[Sample]:
    """Wall times of `runs` fresh processes of each command, taken in turns (one run of each per
    round, after one untimed warm-up round for bytecode and the disk cache): a machine that
    speeds up or slows down during the measurement moves all of them alike, not one."""
    times: list[list[float] | None] = [[] for _ in commands]
    for attempt in range(runs + 1):
        for index, command in enumerate(commands):
            if times[index] is None:
                continue
            if command.before is not None:
                command.before(attempt)
            start = time.perf_counter()
            try:
                done = subprocess.run(
                    command.argv, cwd=ROOT, capture_output=True, timeout=timeout, env={**ENV, **command.env}
                )
            except subprocess.TimeoutExpired:
                times[index] = None
                continue
            if done.returncode:
                sys.stderr.write(done.stderr.decode(errors="replace")[-600:])
                times[index] = None
            elif attempt:
                times[index].append(time.perf_counter() - start)
    return [Sample(t) for t in times]


def cnndsl(*args) -> list[str]:
    return [PYTHON, "-m", "cnndsl", *[str(a) for a in args]]


def ratio(slow: Sample, fast: Sample) -> str:
    if not (slow.ok and fast.ok):
        return "-"
    return f"{slow.median / fast.median:.1f}x"


def startup(runs: int, folder: str) -> list[list[str]]:
    edited = Path(folder) / "lenet5.cnn"
    text = LENET.read_text()
    bare, check, after_edit, uncached = timed_together(
        [
            Command([PYTHON, "-c", "pass"]),
            Command(cnndsl("check", LENET)),
            Command(cnndsl("check", edited), before=lambda n: edited.write_text(f"{text}# edit {n}\n")),
            Command(cnndsl("check", LENET), env={"CNNDSL_NO_CACHE": "1"}),
        ],
        runs,
    )
    return [
        ["Python start (`python -c pass`)", bare.cell(), "", "", ""],
        ["`cnndsl check architectures/lenet5.cnn`", check.cell(), "", "", "<= 0.15 s"],
        ["the same, the file edited before each run (parsed again)", after_edit.cell(), "", "", ""],
        ["the same, no cache at all (`CNNDSL_NO_CACHE=1`: tables built, file parsed)", uncached.cell(), "", "", ""],
    ]


def report_vs_torchinfo(runs: int) -> list[list[str]]:
    name = "torchinfo `summary` (PyTorch model)"
    commands = [Command(cnndsl("report", RESNET50)), Command([PYTHON, "-c", COMPETITORS[name]])]
    ours, theirs = timed_together(commands, runs)
    return [["`cnndsl report resnet50`", ours.cell(), f"{name} {theirs.cell()}", ratio(theirs, ours), ">= 10x"]]


def compile_vs_torch(runs: int, folder: str) -> list[list[str]]:
    """Both tools writing the model to disk (under `folder`), then to memory (/dev/shm, where
    there is one): writing 100 MB to the disk of a shared machine costs both about the same
    time and stalls now and then, so the second row measures the tools without the disk."""
    rows = []
    places = [("", folder)]
    if os.access("/dev/shm", os.W_OK):
        places.append((", output in memory (/dev/shm)", "/dev/shm"))
    for label, parent in places:
        with tempfile.TemporaryDirectory(dir=parent) as place:
            ours, theirs = timed_together(
                [
                    Command(cnndsl("compile", RESNET50, "-o", f"{place}/r50.onnx")),
                    Command([PYTHON, str(HERE / "torch_resnet50.py"), f"{place}/r50_torch.onnx"]),
                ],
                runs,
            )
        peer = f"torch.nn + torch.onnx.export {theirs.cell()}"
        rows.append([f"`cnndsl compile resnet50`{label}", ours.cell(), peer, ratio(theirs, ours), ">= 8x"])
    return rows


def report_scaling(folder: str, blocks: list[int]) -> list[list[str]]:
    rows, per_node, commands = [], [], []
    for count in blocks:
        path = Path(folder) / f"deep{count}.cnn"
        path.write_text(synthetic(count))
        commands.append(Command(cnndsl("report", path, "--format", "json", "-o", f"{folder}/deep.json")))
    for count, sample in zip(blocks, timed_together(commands, 3)):
        nodes = 7 * count + 5
        per_node.append(sample.median / nodes * 1000 if sample.ok else float("nan"))
        goal = "<= 5 s" if count == blocks[-1] else ""
        rows.append([f"`report`, {nodes:,} nodes", sample.cell(), f"{per_node[-1]:.3f} s per 1,000 nodes", "", goal])
    growth = per_node[-1] / per_node[0]
    rows.append(["time per node, largest / smallest", f"{growth:.2f}", "1.0 is linear", "", "linear"])
    return rows


def render_huge(folder: str, blocks: int) -> list[list[str]]:
    path = Path(folder) / f"render{blocks}.cnn"
    path.write_text(synthetic(blocks))
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cnndsl("render", path, "-o", f"{folder}/huge.svg", "--depth", "99"), capture_output=True, timeout=120
        )
        seconds, code = time.perf_counter() - start, done.returncode
        answer = done.stderr.decode(errors="replace").strip().splitlines()
        outcome = "drawn" if code == 0 else f"exit {code}: {answer[0] if answer else ''}"
    except subprocess.TimeoutExpired:
        seconds, outcome = 120.0, "still running after 120 s"
    nodes = 7 * blocks + 5
    return [[f"`render`, {nodes:,} nodes, every node", f"{seconds:.2f} s", outcome[:90], "", "<= 30 s or refuse"]]


def versions() -> str:
    """The installed versions of VERSIONS, as the interpreter that runs the commands sees them."""
    script = (
        "import contextlib, importlib.metadata as m\n"
        f"for name in {VERSIONS!r}:\n"
        "    with contextlib.suppress(m.PackageNotFoundError):\n"
        "        print(name, m.version(name))\n"
    )
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=ENV)
    return ", ".join(done.stdout.split("\n")[:-1]) if done.returncode == 0 else "unknown"


def machine() -> str:
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def table(rows: list[list[str]]) -> list[str]:
    lines = ["| measurement | cnndsl | peer | peer / cnndsl | goal |", "|---|---|---|---:|---|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per timing (median)")
    parser.add_argument("--quick", action="store_true", help="smaller scaling run (1,000 and 2,000 blocks)")
    parser.add_argument("--write", help="also write the printed Markdown to this file")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run (e.g. a venv's python)")
    args = parser.parse_args()
    global PYTHON
    PYTHON = args.python
    blocks = [1000, 2000] if args.quick else [1000, 2000, 5000, 10000]
    with tempfile.TemporaryDirectory() as folder:
        rows = startup(args.runs, folder) + report_vs_torchinfo(args.runs) + compile_vs_torch(args.runs, folder)
        rows += report_scaling(folder, blocks) + render_huge(folder, 14286)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run `python benchmarks/run_all.py --runs {args.runs}` on {stamp}"
        + (f", with `--python {args.python}`." if args.python != sys.executable else "."),
        "",
        f"Machine: {machine()}. Versions: {versions()}.",
        "",
        "Times are whole-process medians with (min..max) over the runs.",
        "",
        *table(rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.write:
        Path(args.write).write_text(text)


if __name__ == "__main__":
    main()
