"""Applicant PD hot path against scikit-learn's predict_proba on a one-row DataFrame, in the same run.

    .venv/bin/python benchmarks/pd_applicant.py [--calls 20000] [--model-dir DIR]

Both sides score the same requests with the same fitted numbers: the baseline is a scikit-learn pipeline
(StandardScaler + LogisticRegression, coefficients copied from the artifact) called the way a naive engine
would, one-row DataFrame in, predict_proba out, plus the Platt step; ours is ApplicantPDModel.predict
(mapping, logit, calibration and the top features as typed objects). Prints p50/p99 per call and the ratio.
Target (issue #3): <= 30 µs per prediction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from engine.derive import derive
from engine.pd import features as F
from engine.pd import load_served
from engine.policy import default_policy
from engine.types import AssessmentRequest, Derived


def _requests(n: int, seed: int = 1) -> list[AssessmentRequest]:
    policy = default_policy()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        answers = {q: str(rng.choice(list(codes))) for q, codes in policy.answers.items()}
        out.append(
            AssessmentRequest.model_validate(
                {
                    "answers": answers,
                    "loan": {
                        "vehicle_price": float(rng.integers(100_000, 1_500_000)),
                        "term_months": int(rng.choice(policy.limits.term_options)),
                    },
                    "applicant": {"birth_year": int(rng.integers(1950, 2006))},
                }
            )
        )
    return out


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    q = statistics.quantiles(samples_ns, n=100)
    return q[49] / 1000.0, q[98] / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--model-dir", type=Path, default=None)
    args = ap.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    policy = default_policy()
    model_dir = args.model_dir or Path(tempfile.mkdtemp(prefix="pd-bench-"))
    model = load_served(model_dir, policy)
    reqs = _requests(500)
    derived = [derive(r, policy, date(2026, 11, 24)) for r in reqs]

    # baseline: the same numbers in a fitted scikit-learn pipeline (coefficients set from the artifact)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    X_any = np.vstack([model.encode(r, d) for r, d in zip(reqs, derived, strict=True)])
    pipe.fit(X_any, np.arange(len(X_any)) % 2)
    scaler, lr = pipe[0], pipe[1]
    scaler.mean_, scaler.scale_ = np.zeros(len(F.COLUMNS)), np.ones(len(F.COLUMNS))
    lr.coef_, lr.intercept_ = model.coef[None, :].copy(), np.array([model.intercept])
    a, b = model.cal_a, model.cal_b

    def baseline(r: AssessmentRequest, d: Derived) -> float:
        row = pd.DataFrame(model.encode(r, d), columns=list(F.COLUMNS))
        p = pipe.predict_proba(row.to_numpy())[0, 1]
        return float(1.0 / (1.0 + np.exp(-(a * np.log(p / (1 - p)) + b))))

    for r, d in zip(reqs[:50], derived[:50], strict=True):  # same answers from both
        assert abs(baseline(r, d) - model.predict(r, d).probability) < 1e-9

    def timed(fn: Callable[[AssessmentRequest, Derived], object], calls: int) -> list[int]:
        samples = []
        n = len(reqs)
        for i in range(calls):
            r, d = reqs[i % n], derived[i % n]
            t0 = time.perf_counter_ns()
            fn(r, d)
            samples.append(time.perf_counter_ns() - t0)
        return samples

    timed(model.predict, 2000)
    timed(baseline, 200)
    ours = _percentiles(timed(model.predict, args.calls))
    base = _percentiles(timed(baseline, max(args.calls // 20, 500)))
    print(f"model {model.model_version}")
    print(f"baseline (sklearn predict_proba, one-row DataFrame): p50 {base[0]:8.1f} µs   p99 {base[1]:8.1f} µs")
    print(f"ApplicantPDModel.predict (pure Python):              p50 {ours[0]:8.1f} µs   p99 {ours[1]:8.1f} µs")
    print(f"speed-up at p50: {base[0] / ours[0]:.0f}×   target p50 <= 30 µs: {'met' if ours[0] <= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
