"""The report path stays light: heavy packages are imported only by the commands that need them."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ARCHITECTURES

HEAVY = ("onnx", "onnxruntime", "graphviz", "networkx", "numpy", "torch", "rich")


def test_report_imports_no_heavy_package(tmp_path):
    out = str(tmp_path / "r.json")
    script = (
        "import sys, json\n"
        "from cnndsl.cli import main\n"
        f"main(['report', {str(ARCHITECTURES / 'resnet50.cnn')!r}, '--format', 'json', '-o', {out!r}])\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_output_to_a_pipe_or_device_is_written_in_place(tmp_path):
    """-o /dev/null or a named pipe must be written to, never replaced by a regular file."""
    import os
    import stat
    import threading

    from cnndsl.files import write_text

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    write_text(pipe, "hello\n")
    reader.join(timeout=10)
    assert received == ["hello\n"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def _imported_by(argv: list[str], tmp_path, packages: tuple) -> list[str]:
    """The `packages` a whole `cnndsl ...` run imports (checked in a fresh interpreter)."""
    script = (
        "import sys, json\n"
        "from cnndsl.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {packages!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_check_imports_nothing_heavy(tmp_path):
    argv = ["check", str(ARCHITECTURES / "lenet5.cnn")]
    assert _imported_by(argv, tmp_path, ("onnx", "onnxruntime", "graphviz", "networkx", "torch", "numpy")) == []


def test_compile_does_not_import_the_onnx_package(tmp_path):
    """Writing a model needs onnx's protobuf classes only, not `import onnx` (and ml_dtypes with it)."""
    argv = ["compile", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(tmp_path / "m.onnx")]
    heavy = ("onnx", "ml_dtypes", "onnxruntime", "graphviz", "networkx", "torch")
    assert _imported_by(argv, tmp_path, heavy) == []
    import onnx

    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)


def test_run_does_not_import_the_onnx_package(tmp_path):
    """`run FILE.cnn` opens the model from memory: onnxruntime, not the onnx package."""
    argv = ["run", str(ARCHITECTURES / "lenet5.cnn")]
    assert _imported_by(argv, tmp_path, ("onnx", "ml_dtypes", "graphviz", "networkx", "torch")) == []


def test_check_imports_no_module_it_does_not_use(tmp_path):
    """Start-up (docs/benchmarks.md): `did you mean` (difflib) loads only when a name is wrong
    (dataclasses, which check does use, shows that the probe sees imports)."""
    argv = ["check", str(ARCHITECTURES / "lenet5.cnn")]
    assert _imported_by(argv, tmp_path, ("difflib", "dataclasses")) == ["dataclasses"]


def _program(argv: list[str], before: str = "") -> subprocess.CompletedProcess:
    """The `cnndsl` program run with `argv` after `before` (Python source); an object in the
    script's globals says "torn down" when the interpreter frees it at exit."""
    script = (
        "import sys\n"
        "class Witness:\n"
        "    def __del__(self):\n"
        "        print('torn down', file=sys.stderr)\n"
        "witness = Witness()\n"
        f"{before}\n"
        "from cnndsl.cli import run\n"
        f"sys.argv = ['cnndsl', *{argv!r}]\n"
        "run()\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_the_program_skips_the_teardown_and_keeps_its_output_and_exit_code(capsys, tmp_path):
    argv = ["report", str(ARCHITECTURES / "resnet50.cnn")]
    done = _program(argv)
    assert done.returncode == 0 and "torn down" not in done.stderr
    from cnndsl.cli import main

    assert main(argv) == 0
    assert done.stdout == capsys.readouterr().out  # every byte of a long report through the pipe
    wrong = tmp_path / "wrong.cnn"
    wrong.write_text("network N { input x: [3, 8, 8]; conv(4, 9) }\n")  # a 9x9 kernel on 8x8
    failed = _program(["check", str(wrong)])
    assert failed.returncode == 1 and "error" in failed.stderr and "torn down" not in failed.stderr


def test_the_program_exits_as_usual_when_something_waits_for_exit():
    argv = ["check", str(ARCHITECTURES / "lenet5.cnn")]
    done = _program(argv, before="import atexit; atexit.register(lambda: print('goodbye', file=sys.stderr))")
    assert done.returncode == 0 and "goodbye" in done.stderr and "torn down" in done.stderr
    done = _program(argv, before="import threading, time; threading.Thread(target=time.sleep, args=(0.2,)).start()")
    assert done.returncode == 0 and "torn down" in done.stderr
