"""The credit ontology of seed 003 on the assessment's data path (SPEC §5).

answers + numbers → applicant graph → RDFS closure (owlrl semantics) → facts read back from the
INFERRED triples → expert system. The inferred graph of any assessment can be exported as Turtle.

Public API (engine/assess.py uses the first two):

    onto = CreditOntology.load()                  # credit.ttl parsed and closed once per process (cached)
    inferred = onto.reason(request, derived, risk, score, pd, as_of_year, policy=policy)
    inferred.facts                                # ExpertFacts, read from the inferred triples
    inferred.asserted_count, inferred.inferred_count
    inferred.to_turtle()                          # audit export (graph.ttl); parseable by rdflib
    inferred.sparql_facts()                       # the same facts by the SPARQL query (reference)
    reference_closure(triples)                    # owlrl on ontology + triples, minus the ontology's closure

Modules: `credit.ttl` (classes, the seed's 18 properties, marked extensions), `vocab` (terms),
`applicant` (the triples one assessment asserts), `reasoner` (owlrl reference and the fast path proven
equal to it), `readback` (SPARQL query and its in-memory equivalent), `credit_ontology` (the API).
Why RDFS semantics, and the design: docs/ontology.md.
"""

from __future__ import annotations

from engine.ontology.applicant import ApplicantBuilder, ApplicantNodes, LocalTerms
from engine.ontology.credit_ontology import CreditOntology, InferredApplicant
from engine.ontology.readback import FACTS_QUERY, FastReader, ReadBackError, sparql_facts
from engine.ontology.reasoner import SEMANTICS, ClosedOntology, SchemaChangeError, Triple, owlrl_closure

__all__ = [
    "FACTS_QUERY",
    "SEMANTICS",
    "ApplicantBuilder",
    "ApplicantNodes",
    "ClosedOntology",
    "CreditOntology",
    "FastReader",
    "InferredApplicant",
    "LocalTerms",
    "ReadBackError",
    "SchemaChangeError",
    "Triple",
    "owlrl_closure",
    "reference_closure",
    "sparql_facts",
]


def reference_closure(asserted: list[Triple], ontology: CreditOntology | None = None) -> set[Triple]:
    """owlrl's closure of a new graph (ontology + asserted) minus the ontology's own closure."""
    return (ontology or CreditOntology.load()).reference_closure(asserted)
