"""Reading without limits (issue 9, item 6): every read stops at the size limit plus one
byte, non-regular files are refused where a regular one is needed, `.npy` headers are
checked before any data is loaded, and unreadable files are located errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import cnndsl
from cnndsl import loader

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX devices and FIFOs")


def check(*args, cwd=None, timeout=60) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cnndsl", "check", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@posix
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_stop_at_the_limit(device):
    result = check(device)
    assert result.returncode == 1
    assert f"{device}:1:1: error: the file is larger than the limit of 1,000,000 bytes [E0003]" in result.stderr


def test_a_huge_import_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.cnn"
    with open(big, "wb") as f:
        f.truncate(3 * 2**30)  # a sparse 3 GB file: reading it whole would take seconds and 3 GB
    (tmp_path / "main.cnn").write_text('import "big.cnn"\nnetwork N { input x: [3, 8, 8]; relu }\n')
    result = check("main.cnn", cwd=tmp_path)
    assert result.returncode == 1
    assert "the file is 3,221,225,472 bytes; the limit is 1,000,000 [E0003]" in result.stderr


def test_an_unreadable_import_is_a_located_error(tmp_path, monkeypatch):
    (tmp_path / "lib.cnn").write_text("block B { relu }\n")
    main = tmp_path / "main.cnn"
    main.write_text('import "lib.cnn"\nnetwork N { input x: [3, 8, 8]; B }\n')

    def refuse(path, limit, regular=True):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(loader, "read_limited", refuse)
    with pytest.raises(cnndsl.CnnError) as caught:
        loader.load_program(text=main.read_text(), name=str(main))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E0014" and "Permission denied" in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 1)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_import_as_a_whole_process(tmp_path):
    (tmp_path / "lib.cnn").write_text("block B { relu }\n")
    (tmp_path / "lib.cnn").chmod(0)
    (tmp_path / "main.cnn").write_text('import "lib.cnn"\nnetwork N { input x: [3, 8, 8]; B }\n')
    result = check("main.cnn", cwd=tmp_path)
    assert result.returncode == 1 and "[E0014]" in result.stderr and "Traceback" not in result.stderr


def compile_with_init(tmp_path, name: str):
    program = f'network N {{ input x: [3, 8, 8]; conv(4, 3, init="{name}") }}'
    return cnndsl.loads(program, name=str(tmp_path / "n.cnn")).to_onnx()


def test_an_npy_header_claiming_1e11_elements_is_refused_before_loading(tmp_path):
    with open(tmp_path / "w.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**5, 10**6)})
    with pytest.raises(cnndsl.CnnError) as caught:
        compile_with_init(tmp_path, "w.npy")
    assert caught.value.code == "E0701" and "[100000, 1000000]" in str(caught.value)


def test_an_npy_of_objects_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "w.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(cnndsl.CnnError) as caught:
        compile_with_init(tmp_path, "w.npy")
    assert caught.value.code == "E0702" and "numeric" in str(caught.value)


@posix
def test_a_fifo_as_init_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "w.npy")
    program = tmp_path / "n.cnn"
    program.write_text('network N { input x: [3, 8, 8]; conv(4, 3, init="w.npy") }\n')
    command = [sys.executable, "-m", "cnndsl", "compile", "n.cnn", "-o", "n.onnx"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is not a regular file" in result.stderr and "[E0702]" in result.stderr


def test_a_truncated_npy_is_a_located_error(tmp_path):
    with open(tmp_path / "w.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (4, 3, 3, 3)})
        f.write(b"\0" * 10)
    with pytest.raises(cnndsl.CnnError) as caught:
        compile_with_init(tmp_path, "w.npy")
    assert caught.value.code == "E0702"


def test_a_right_npy_still_loads(tmp_path):
    weights = np.arange(108, dtype=np.float32).reshape(4, 3, 3, 3)
    np.save(tmp_path / "w.npy", weights)
    model = compile_with_init(tmp_path, "w.npy")
    from onnx import numpy_helper

    assert np.array_equal(numpy_helper.to_array(model.graph.initializer[0]), weights)
