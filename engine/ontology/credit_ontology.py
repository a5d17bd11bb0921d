"""`CreditOntology`: the closed ontology, and one assessment's applicant graph reasoned against it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, Literal
from rdflib.namespace import RDFS

from engine.ontology import vocab as v
from engine.ontology.applicant import ApplicantBuilder, ApplicantNodes, LocalTerms
from engine.ontology.readback import FastReader, sparql_facts
from engine.ontology.reasoner import SEMANTICS, ClosedOntology, IdTriple, Triple
from engine.policy import Policy, default_policy
from engine.policy.models import OntologyPolicy
from engine.types import AssessmentRequest, Derived, ExpertFacts


class InferredApplicant:
    """One applicant's asserted triples, what the reasoner inferred from them, and the facts read back.

    `asserted` and `inferred` are rdflib triples, made on first access (the hot path needs only the
    counts and `facts`). `inferred` = closure(ontology ∪ asserted) − closure(ontology) − asserted.
    """

    __slots__ = ("_asserted", "_ids", "_inferred", "as_of_year", "facts", "nodes", "ontology", "terms")

    def __init__(
        self,
        asserted_ids: list[IdTriple],
        inferred_ids: list[IdTriple],
        terms: LocalTerms,
        facts: ExpertFacts,
        nodes: ApplicantNodes,
        as_of_year: int,
        ontology: ClosedOntology,
    ) -> None:
        self._ids = (asserted_ids, inferred_ids)
        self.terms = terms
        self.facts = facts
        self.nodes = nodes
        self.as_of_year = as_of_year
        self.ontology = ontology
        self._asserted: tuple[Triple, ...] | None = None
        self._inferred: tuple[Triple, ...] | None = None

    @property
    def asserted_count(self) -> int:
        return len(self._ids[0])

    @property
    def inferred_count(self) -> int:
        return len(self._ids[1])

    def _materialize(self, ids: list[IdTriple]) -> tuple[Triple, ...]:
        term = self.terms.term
        return tuple((term(s), term(p), term(o)) for s, p, o in ids)

    @property
    def asserted(self) -> tuple[Triple, ...]:
        if self._asserted is None:
            self._asserted = self._materialize(self._ids[0])
        return self._asserted

    @property
    def inferred(self) -> tuple[Triple, ...]:
        if self._inferred is None:
            self._inferred = self._materialize(self._ids[1])
        return self._inferred

    def graph(self, include_ontology: bool = False) -> Graph:
        """An rdflib Graph of the asserted + inferred triples (plus the closed ontology, if asked)."""
        g = Graph()
        for prefix, ns in v.PREFIXES.items():
            g.bind(prefix, ns)
        if include_ontology:
            for t in self.ontology.closure:
                g.add(t)
        for t in (*self.asserted, *self.inferred):
            g.add(t)
        return g

    def sparql_facts(self) -> ExpertFacts:
        """The expert facts by SPARQL over the inferred rdflib Graph (the reference of `facts`)."""
        return sparql_facts(self.graph(), self.as_of_year)

    def to_turtle(self, include_ontology: bool = False) -> str:
        """The inferred graph as Turtle, for audit (the API serves it as graph.ttl).

        owlrl's RDFS closure also types literals ("25000.0"^^xsd:decimal rdf:type xsd:decimal): RDF 1.1
        cannot put a literal in subject position, so those generalized triples are left out of the text
        (they are counted in `inferred_count`) and the header comment says how many.
        """
        g = self.graph(include_ontology)
        generalized = [t for t in g if isinstance(t[0], Literal)]
        for t in generalized:
            g.remove(t)
        header = (
            f"# Asesor: applicant graph of {self.nodes.identifier}, closed with owlrl {SEMANTICS.__name__}\n"
            f"# asserted triples: {self.asserted_count}; inferred triples: {self.inferred_count}; "
            f"omitted here: {len(generalized)} inferred triples with a literal subject (not expressible in Turtle)\n"
        )
        return header + g.serialize(format="turtle")


class CreditOntology:
    """credit.ttl closed once with owlrl; `reason()` puts one applicant through it (the fast path)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.closed = ClosedOntology(graph, extra_terms=v.BUILDER_TERMS)
        self._builder = ApplicantBuilder(self.closed)
        self._reader = FastReader(self.closed)
        self._checked_policies: dict[int, OntologyPolicy] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> CreditOntology:
        """The shipped ontology (or the Turtle file at `path`), parsed and closed once per process."""
        return _load(str(Path(path).resolve()) if path else str(v.ONTOLOGY_PATH))

    # -------------------------------------------------------------------------------------------- API
    def reason(
        self,
        request: AssessmentRequest,
        derived: Derived,
        risk: float,
        score: float,
        pd: float | None,
        as_of_year: int,
        *,
        policy: Policy | None = None,
        assessment_id: str | None = None,
        bank: str | None = None,
        eligible_banks: Sequence[str] | None = None,
        knockouts: Sequence[str] = (),
        include_name: bool = False,
    ) -> InferredApplicant:
        """Build the applicant's triples, infer (fast path, equal to owlrl) and read the facts back.

        risk: the fuzzy risk 0–100; score: the credit score 0–1000; pd: the PD 0–1 (optional);
        bank: the recommended bank code (optional); eligible_banks: the codes of the banks whose table accepts
        every answer (seed 002; None: no bank fit given, so the expert's K1 cannot fire); knockouts: the
        eliminatory answers as "question=code"; assessment_id: the caller's id for dc:identifier
        (default: a digest of the asserted values); include_name: put the applicant's real name in
        foaf:name instead of a pseudonym. The policy's [ontology] section maps answers to classes.
        """
        policy = policy or default_policy()
        self._check_policy(policy)
        applicant = self._builder.build(
            request,
            derived,
            risk=risk,
            score=score,
            pd=pd,
            policy=policy,
            assessment_id=assessment_id,
            bank=bank,
            eligible_banks=eligible_banks,
            knockouts=knockouts,
            include_name=include_name,
        )
        closure = self.closed.infer_ids(applicant.triples, applicant.terms.value_keys())
        asserted = list(dict.fromkeys(t for t in applicant.triples if t in closure))
        asserted_set = set(asserted)
        inferred = [t for t in closure if t not in asserted_set]
        facts = self._reader.read(closure, applicant.terms, as_of_year)
        return InferredApplicant(asserted, inferred, applicant.terms, facts, applicant.nodes, as_of_year, self.closed)

    def infer(self, asserted: list[Triple]) -> set[Triple]:
        """The fast path on any instance triples: closure(ontology ∪ asserted) − closure(ontology)."""
        return self.closed.infer(asserted)

    def reference_closure(self, asserted: list[Triple]) -> set[Triple]:
        """owlrl on a new graph of ontology + `asserted`, minus the ontology's closure (the reference)."""
        return self.closed.reference_difference(asserted)

    def subclasses_of(self, cls: str) -> set[str]:
        """Local names of the ontology's classes that are subclasses of ex:`cls` (itself included)."""
        target, ex = v.EX[cls], str(v.EX)
        return {
            str(s).removeprefix(ex)
            for s, p, o in self.closed.closure
            if p == RDFS.subClassOf and o == target and str(s).startswith(ex)
        }

    def _check_policy(self, policy: Policy) -> None:
        """The policy's [ontology] class names must be classes of credit.ttl of the right kind."""
        o = policy.ontology
        if self._checked_policies.get(id(o)) is o:
            return
        incomes, credits = self.subclasses_of("Ingreso"), self.subclasses_of("Credito")
        for band, cls in o.income_class_by_band.items():
            if cls not in incomes:
                raise ValueError(f"ontology.income_class_by_band.{band}: {cls!r} is not a class of ex:Ingreso")
        if o.credit_class not in credits:
            raise ValueError(f"ontology.credit_class: {o.credit_class!r} is not a class of ex:Credito")
        self._checked_policies[id(o)] = o  # holding it keeps its id from being reused


@lru_cache(maxsize=4)
def _load(path: str) -> CreditOntology:
    graph = Graph()
    graph.parse(path, format="turtle")
    return CreditOntology(graph)
