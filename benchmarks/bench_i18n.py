#!/usr/bin/env python
"""The cost of one t() call: a plain key, a key with values, a plural, in each language.

t() sits on every label of every page (cnn_core/i18n), so it must stay a few dictionary lookups:
the issue's target is well under a microsecond for a plain key. The catalogues are read once
(Babel) before timing; the times are per call, the best of --repeats timeit runs of --number
calls each (the best is the least disturbed by the rest of the machine).

    .venv/bin/python benchmarks/bench_i18n.py
    .venv/bin/python benchmarks/bench_i18n.py --number 200000 --repeats 7
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnn_core.i18n import LANGUAGES, catalog, t, use_language  # noqa: E402

CASES = {
    "plain key": ("nav.calculator", {}),
    "key with values": ("spec.where_layer", {"number": 3, "type": "relu"}),
    "plural (n=1)": ("filters.kernel_count", {"n": 1, "k": 8, "shown": 1}),
    "plural (n=5)": ("filters.kernel_count", {"n": 5, "k": 8, "shown": 5}),
}


def per_call_ns(key: str, values: dict, language: str, number: int, repeats: int) -> float:
    use_language(language)
    try:
        call = (lambda: t(key, **values)) if values else (lambda: t(key))
        call()  # the catalogue and the plural rule are read once, before timing
        return min(timeit.repeat(call, number=number, repeat=repeats)) / number * 1e9
    finally:
        use_language(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per timeit run")
    parser.add_argument("--repeats", type=int, default=5, help="timeit runs; the best is reported")
    args = parser.parse_args()
    for key, _ in CASES.values():
        assert all(key in catalog(language) for language in LANGUAGES), key
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# best of {args.repeats} x {args.number:,} calls, ns per call")
    print("| call | " + " | ".join(LANGUAGES) + " |")
    print("|---|" + "---:|" * len(LANGUAGES))
    for name, (key, values) in CASES.items():
        times = [per_call_ns(key, values, language, args.number, args.repeats) for language in LANGUAGES]
        print(f"| {name} (`{key}`) | " + " | ".join(f"{ns:,.0f} ns" for ns in times) + " |")


if __name__ == "__main__":
    main()
