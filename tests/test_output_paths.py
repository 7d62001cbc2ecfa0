"""Output paths (issue 9): devices and pipes are streams, symbolic links are written
through, the program itself is never overwritten, full disks are located errors, and
no temporary file outlives its writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from conftest import interruptible

PROGRAM = "network N { input x: [3, 8, 8]; conv(4, 3) }\n"
posix = pytest.mark.skipif(os.name != "posix", reason="POSIX devices, links and signals")


def cnndsl(*args, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnndsl", *args], cwd=cwd, capture_output=True, **kwargs)


@pytest.fixture
def program(tmp_path) -> Path:
    path = tmp_path / "m.cnn"
    path.write_text(PROGRAM)
    return path


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@posix
def test_output_to_dev_null_is_a_stream(program):
    result = cnndsl("compile", program.name, "-o", "/dev/null", cwd=program.parent)
    assert result.returncode == 0, result.stderr
    assert no_temporaries(program.parent)


@posix
def test_output_to_a_pipe_is_a_stream(program):
    result = cnndsl("compile", program.name, "-o", "/dev/stdout", cwd=program.parent)
    assert result.returncode == 0, result.stderr
    model = onnx.load_from_string(result.stdout)
    assert [n.op_type for n in model.graph.node] == ["Conv"]


@posix
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_to_a_full_device_is_a_located_error(program):
    result = cnndsl("compile", program.name, "-o", "/dev/full", cwd=program.parent, text=True)
    assert result.returncode == 2
    assert "cannot write /dev/full: No space left on device [E0801]" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@posix
def test_output_through_a_symlink_writes_its_target(program):
    link, target = program.parent / "link.onnx", program.parent / "real.onnx"
    link.symlink_to("real.onnx")
    for _ in range(2):  # a new target, then over the existing one
        result = cnndsl("compile", program.name, "-o", "link.onnx", cwd=program.parent)
        assert result.returncode == 0, result.stderr
        assert link.is_symlink() and os.readlink(link) == "real.onnx"
        assert onnx.load(str(target)).graph.node[0].op_type == "Conv"
    assert no_temporaries(program.parent)


@pytest.mark.parametrize("how", ["same name", "other spelling", "symlink", "hard link", "report"])
def test_the_program_itself_is_never_overwritten(program, how):
    folder = program.parent
    output = {"same name": "m.cnn", "other spelling": "./sub/../m.cnn", "symlink": "alias", "hard link": "hard"}
    (folder / "sub").mkdir()
    if how == "symlink":
        (folder / "alias").symlink_to("m.cnn")
    if how == "hard link":
        os.link(program, folder / "hard")
    command = ["report", "m.cnn", "-o", "m.cnn"] if how == "report" else ["compile", "m.cnn", "-o", output[how]]
    result = cnndsl(*command, cwd=folder, text=True)
    assert result.returncode == 2
    assert "[E0802]" in result.stderr and "source file" in result.stderr
    assert program.read_text() == PROGRAM


def test_an_imported_file_is_never_overwritten(tmp_path):
    (tmp_path / "lib.cnn").write_text("block B { relu }\n")
    (tmp_path / "main.cnn").write_text('import "lib.cnn"\nnetwork N { input x: [3, 8, 8]; B }\n')
    result = cnndsl("report", "main.cnn", "-o", "lib.cnn", cwd=tmp_path, text=True)
    assert result.returncode == 2 and "[E0802]" in result.stderr
    assert (tmp_path / "lib.cnn").read_text() == "block B { relu }\n"


@posix
def test_stale_temporaries_of_a_killed_writer_are_removed(program):
    """`kill -9` leaves `.NAME.PID.xxx.tmp`; the next write to NAME removes it (its writer is gone)."""
    folder = program.parent
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = folder / f".model.onnx.{dead.pid}.abc123.tmp"
    stale.write_bytes(b"half a model")
    alive = folder / f".model.onnx.{os.getpid()}.def456.tmp"  # a writer that still runs: kept
    alive.write_bytes(b"in progress")
    result = cnndsl("compile", program.name, "-o", "model.onnx", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and alive.exists()


WRITER = """
import sys, time
from cnndsl.files import atomic_path
with atomic_path(sys.argv[1]) as temporary:
    open(temporary, "wb").write(b"partial")
    print("writing", flush=True)
    time.sleep(60)
"""


@posix
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_no_temporary_left_after_sigterm_or_sigint(tmp_path, signum):
    target = tmp_path / "out.onnx"
    command = [sys.executable, "-c", WRITER, str(target)]
    writer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=interruptible)
    assert writer.stdout.readline() == b"writing\n"
    assert not no_temporaries(tmp_path)  # the temporary exists while writing
    writer.send_signal(signum)
    deadline = time.monotonic() + 30
    while writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.returncode != 0
    assert no_temporaries(tmp_path) and not target.exists()


def test_a_directory_or_missing_folder_is_a_located_error(program):
    (program.parent / "d").mkdir()
    for output, message in (("d", "it is a directory"), ("nowhere/m.onnx", "does not exist")):
        result = cnndsl("compile", program.name, "-o", output, cwd=program.parent, text=True)
        assert result.returncode == 2 and message in result.stderr and "[E0801]" in result.stderr
