"""The seed-001 study on scoring_bancario: whole five-strategy run, and the stepwise search with the BLAS thread
pool left alone against one BLAS thread (what engine.training.study does), in the same run.

    .venv/bin/python benchmarks/training.py [--dataset scoring_bancario] [--repeat 1]

Prints wall and CPU seconds and their ratios. Target (issue #7): the whole report in under 2 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# run as a script from benchmarks/: the repository root first, so `engine` is the package, not engine.py here
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits

from engine.policy import default_policy
from engine.training.datasets import load_dataset, load_definition
from engine.training.logit import DesignSpec
from engine.training.resampling import resample, stratified_split
from engine.training.stepwise import stepwise_aic
from engine.training.study import run_study


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="scoring_bancario")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    ds = load_dataset(load_definition(args.dataset))
    sp = stratified_split(ds.X, ds.y)
    spec = DesignSpec.fit(ds.X, ds.categorical)
    Xr, yr = resample(sp.X_train, sp.y_train, "smote", categorical=ds.categorical)

    def search() -> None:
        for _ in range(args.repeat):
            stepwise_aic(spec, Xr, yr)

    def search_one_thread() -> None:
        with threadpool_limits(limits=1, user_api="blas"):
            search()

    base = _timed(search)
    one = _timed(search_one_thread)
    study = _timed(lambda: run_study(ds, default_policy()))
    print(f"stepwise (SMOTE part, x{args.repeat}), default BLAS threads: wall {base[0]:.2f} s, cpu {base[1]:.2f} s")
    print(f"stepwise (SMOTE part, x{args.repeat}), one BLAS thread:      wall {one[0]:.2f} s, cpu {one[1]:.2f} s")
    print(f"ratio default/one thread: wall {base[0] / one[0]:.2f}x, cpu {base[1] / one[1]:.2f}x")
    print(
        f"whole study ({args.dataset}, 5 strategies + scorecard): wall {study[0]:.2f} s, cpu {study[1]:.2f} s "
        f"({study[0] / 120:.1%} of the 2-minute budget)"
    )


if __name__ == "__main__":
    main()
