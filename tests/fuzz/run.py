"""Long fuzzing run: generated and mutated programs, each with a time limit.

    python tests/fuzz/run.py --count 100000 [--seed 0] [--limit 5]

Half the inputs are mutations of architectures/*.cnn, half are programs drawn
from the grammar-based Hypothesis strategy. Prints the number of inputs, how
many compiled, how many gave located errors, and every internal error or hang
(an input that takes longer than --limit seconds). Exit status 1 if any.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz.programs import ARCHITECTURES, compile_text, mutate, programs  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def _draw(strategy, rng):
    from hypothesis import HealthCheck, given, settings

    box = []

    @settings(max_examples=1, database=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def grab(text):
        box.append(text)

    grab._hypothesis_internal_use_seed = rng.getrandbits(64)
    grab()
    return box[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=5.0, help="seconds per input before it counts as a hang")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sources = [(p, p.read_text()) for p in ARCHITECTURES]
    signal.signal(signal.SIGALRM, _alarm)
    outcomes, failures, slowest, started = Counter(), [], 0.0, time.perf_counter()
    reported = 0
    for i in range(args.count):
        if i % 2:
            text, name = _draw(programs(), rng), "<generated>"
        else:
            path, original = rng.choice(sources)
            text, name = mutate(original, rng), str(path)
        begin = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, args.limit)
        try:
            outcomes[compile_text(text, name)] += 1
        except Hang:
            failures.append(("hang", text, ""))
        except Exception:  # noqa: BLE001 - an internal error is what we look for
            failures.append(("internal error", text, traceback.format_exc()))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if len(failures) > reported:
            kind, text, detail = failures[-1]
            print(f"--- {kind} (input {i}, {time.perf_counter() - begin:.1f} s)\n{text}\n{detail}", flush=True)
            reported = len(failures)
        slowest = max(slowest, time.perf_counter() - begin)
        if (i + 1) % 5000 == 0:
            print(f"{i + 1:,} inputs, {len(failures)} failures", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"{args.count:,} inputs in {elapsed:.0f} s: {outcomes['ok']:,} compiled, {outcomes['error']:,} located "
        f"errors, {sum(k == 'internal error' for k, _, _ in failures)} internal errors, "
        f"{sum(k == 'hang' for k, _, _ in failures)} hangs; slowest input {slowest:.2f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
