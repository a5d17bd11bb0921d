"""The ontology step of one assessment: naive owlrl against the fast path, in the same run.

    .venv/bin/python benchmarks/ontology.py [--naive-calls 60] [--fast-calls 20000]

- naive: what a plain rdflib/owlrl pipeline does on every applicant: a new Graph, credit.ttl parsed into
  it, the applicant's triples added, owlrl's DeductiveClosure(RDFS_Semantics) over everything, the facts
  read back with the SPARQL prepared query. Also timed without the parse (ontology triples copied from
  memory), which is the closure alone.
- fast: CreditOntology.reason(): build the applicant's id triples, infer them against the ontology closed
  once at load (proven equal to owlrl by tests/engine/test_ontology.py), read the facts from the index.
- SPARQL on the fast path's result (an rdflib Graph of the inferred triples + the prepared query): why
  the hot path reads from the in-memory index instead (target for the whole step: ≤ ~0.4 ms p50).

Prints p50/p99 per call and the ratios. Both sides see the same applicants.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import owlrl
from rdflib import Graph

from engine.derive import derive
from engine.ontology import CreditOntology, sparql_facts
from engine.ontology.vocab import ONTOLOGY_PATH
from engine.policy import default_policy
from engine.types import AssessmentRequest, Derived

AS_OF = date(2026, 11, 24)


def _applicants(n: int, seed: int = 1) -> list[tuple[AssessmentRequest, Derived, float, int, float]]:
    policy = default_policy()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        answers = {q: rng.choice(list(codes)) for q, codes in policy.answers.items()}
        request = AssessmentRequest.model_validate(
            {
                "answers": answers,
                "loan": {
                    "vehicle_price": float(rng.randint(100_000, 1_500_000)),
                    "term_months": rng.choice(policy.limits.term_options),
                },
                "applicant": {"birth_year": rng.randint(1950, 2006)},
            }
        )
        derived = derive(request, policy, AS_OF)
        out.append((request, derived, rng.uniform(0, 100), rng.randint(250, 900), rng.uniform(0.005, 0.6)))
    return out


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples_s, n=100)
    return q[49], q[98]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:9.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--naive-calls", type=int, default=60)
    parser.add_argument("--fast-calls", type=int, default=20000)
    args = parser.parse_args()

    policy = default_policy()
    t0 = time.perf_counter()
    onto = CreditOntology.load()
    load_s = time.perf_counter() - t0
    people = _applicants(max(args.fast_calls, args.naive_calls))
    # the applicant triples as rdflib terms, for the naive side (its own building is not what is compared)
    asserted = [
        onto.reason(r, d, risk, score, pd, AS_OF.year, policy=policy).asserted
        for r, d, risk, score, pd in people[: args.naive_calls]
    ]
    ontology_triples = tuple(onto.closed.asserted)

    def naive(i: int, parse: bool) -> None:
        g = Graph()
        if parse:
            g.parse(ONTOLOGY_PATH, format="turtle")
        else:
            for t in ontology_triples:
                g.add(t)
        for t in asserted[i]:
            g.add(t)
        owlrl.DeductiveClosure(owlrl.RDFS_Semantics).expand(g)
        sparql_facts(g, AS_OF.year)

    results: dict[str, list[float]] = {}
    for label, parse in (("naive: parse + owlrl + SPARQL", True), ("naive: owlrl + SPARQL (no parse)", False)):
        samples = []
        for i in range(args.naive_calls):
            t = time.perf_counter()
            naive(i, parse)
            samples.append(time.perf_counter() - t)
        results[label] = samples

    inferred = [onto.reason(r, d, risk, score, pd, AS_OF.year, policy=policy) for r, d, risk, score, pd in people[:200]]
    samples = []
    for i in range(min(args.naive_calls, 200)):
        t = time.perf_counter()
        inferred[i].sparql_facts()
        samples.append(time.perf_counter() - t)
    results["SPARQL read of the fast result (Graph + query)"] = samples

    gc.collect()
    samples = []
    for r, d, risk, score, pd in people[: args.fast_calls]:
        t = time.perf_counter()
        onto.reason(r, d, risk, score, pd, AS_OF.year, policy=policy)
        samples.append(time.perf_counter() - t)
    results["fast: build + infer + read (reason)"] = samples

    print(f"ontology load (parse + one owlrl closure of credit.ttl): {_fmt(load_s)}")
    print(f"{'':48s} {'p50':>12s} {'p99':>12s}   calls")
    for label, s in results.items():
        p50, p99 = _percentiles(s)
        print(f"{label:48s} {_fmt(p50)} {_fmt(p99)}   {len(s)}")
    fast50, fast99 = _percentiles(results["fast: build + infer + read (reason)"])
    for label in ("naive: parse + owlrl + SPARQL", "naive: owlrl + SPARQL (no parse)"):
        n50, n99 = _percentiles(results[label])
        print(f"ratio {label} / fast: p50 {n50 / fast50:,.0f}×, p99 {n99 / fast99:,.0f}×")


if __name__ == "__main__":
    main()
