"""The expert system's facts, read back from the INFERRED triples: a SPARQL query and a fast equivalent.

Both find the applicant, the income, the credit and the records by their inferred types (no rdf:type is
asserted on the applicant: ex:Persona comes from domains; ex:Ingreso, ex:Credito and ex:Historial from
subclasses and ranges), and read the requested amount from ex:monto, which only the sub-property
ex:montoSolicitado ⊑ ex:monto produces. `FACTS_QUERY` (an rdflib prepared query over an rdflib Graph) is
the reference; `FastReader` does the same joins over an index of the id triples without building a Graph
(the hot path: the query alone costs ≈ 0.7 ms on one applicant's graph, see benchmarks/ontology.py).
A test proves both give identical facts.

owlrl copies a literal onto every other literal of equal value (e.g. a term of 48 months and a risk of
48.0), so a property may hold several literals: they have the same value and read back the same number;
readings that disagree fail the read-back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import product
from typing import Any

from rdflib import Graph, Literal
from rdflib.plugins.sparql import prepareQuery

from engine.ontology import vocab as v
from engine.ontology.applicant import LocalTerms
from engine.ontology.reasoner import ClosedOntology, IdTriple
from engine.types import ExpertFacts

FACTS_QUERY = prepareQuery(
    """
    SELECT ?name ?anio ?riesgo ?ingreso ?puntaje ?capacidad ?monto ?plazo ?pd ?elegibles WHERE {
        ?p a ex:Persona ;
           foaf:name ?name ;
           ex:anioNacimiento ?anio ;
           ex:riesgoImpago ?riesgo ;
           ex:tieneIngreso ?i ;
           ex:tieneCredito ?c ;
           ex:tieneHistorial ?hp , ?hc .
        ?i a ex:Ingreso ; ex:montoIngreso ?ingreso .
        ?c a ex:Credito ; ex:monto ?monto ; ex:plazo ?plazo .
        ?hp a ex:Historial ; ex:puntajeCrediticio ?puntaje .
        ?hc a ex:Historial ; ex:capacidadEndeudamiento ?capacidad .
        OPTIONAL { ?hp ex:probabilidadIncumplimiento ?pd }
        OPTIONAL { ?c ex:bancosElegibles ?elegibles }
    }
    """,
    initNs=v.PREFIXES,
)
# seed 002's knock-outs: the eligible banks of the applicant's credit, and the applicant's eliminatory answers
BANKS_QUERY = prepareQuery(
    "SELECT DISTINCT ?banco WHERE { ?p a ex:Persona ; ex:tieneCredito ?c . ?c a ex:Credito ; ex:bancoElegible ?banco }",
    initNs=v.PREFIXES,
)
KNOCKOUTS_QUERY = prepareQuery(
    "SELECT DISTINCT ?r WHERE { ?p a ex:Persona ; ex:respuestaEliminatoria ?r }",
    initNs=v.PREFIXES,
)
COLUMNS = ("foaf:name", "ex:anioNacimiento", "ex:riesgoImpago", "ex:montoIngreso", "ex:puntajeCrediticio",
           "ex:capacidadEndeudamiento", "ex:monto", "ex:plazo", "ex:probabilidadIncumplimiento",
           "ex:bancosElegibles")  # fmt: skip


class ReadBackError(ValueError):
    """The inferred graph does not hold exactly one applicant with every fact the expert system needs."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ReadBackError(f"{what}: not a number: {value!r}")
    return float(value)


def _facts(
    lexical: list[str | None], values: list[Any], as_of_year: int, banks: list[str], knockouts: list[str]
) -> ExpertFacts:
    """One row of the query (lexical forms and rdflib Python values, in COLUMNS order) as ExpertFacts.

    The last two columns are optional (None where the graph has no PD or no bank fit); `banks` and
    `knockouts` are the multi-valued knock-out facts, read separately.
    """
    year = (lexical[1] or "")[:4]  # rdflib gives xsd:gYear no Python value: read its lexical form
    if not year.isdigit():
        raise ReadBackError(f"ex:anioNacimiento: not a year: {lexical[1]!r}")
    term = _number(values[7], "ex:plazo")
    if not term.is_integer():
        raise ReadBackError(f"ex:plazo: not a whole number of months: {values[7]!r}")
    birth_year = int(year)
    eligible: list[str] | None = None
    if values[9] is not None or lexical[9] is not None:
        count = _number(values[9], COLUMNS[9])
        if count != len(banks):
            raise ReadBackError(f"{COLUMNS[9]} = {values[9]!r} but {len(banks)} ex:bancoElegible")
        eligible = sorted(banks)
    return ExpertFacts(
        name=str(lexical[0]),
        birth_year=birth_year,
        age=as_of_year - birth_year,
        risk=_number(values[2], COLUMNS[2]),
        income=_number(values[3], COLUMNS[3]),
        score=_number(values[4], COLUMNS[4]),
        debt_capacity=_number(values[5], COLUMNS[5]),
        requested=_number(values[6], COLUMNS[6]),
        term_months=int(term),
        eligible_banks=eligible,
        knockouts=sorted(knockouts),
        pd=None if lexical[8] is None else _number(values[8], COLUMNS[8]),
    )


def _single(readings: Iterable[ExpertFacts]) -> ExpertFacts:
    found = list(readings)
    if not found:
        raise ReadBackError("no applicant with all the facts the expert system needs")
    if any(f != found[0] for f in found[1:]):
        raise ReadBackError(f"{len(found)} different readings of the applicant's facts")
    return found[0]


def _or_none(found: list[int]) -> list[int | None]:
    return [*found] if found else [None]


def sparql_facts(graph: Graph, as_of_year: int) -> ExpertFacts:
    """The facts by the SPARQL query over an rdflib Graph of the inferred triples (the reference)."""

    banks = [str(row[0]) for row in _rows(graph, BANKS_QUERY)]
    knockouts = [str(row[0]) for row in _rows(graph, KNOCKOUTS_QUERY)]

    def reading(row: tuple[Any, ...]) -> ExpertFacts:
        values = [x.value if isinstance(x, Literal) else None for x in row]
        return _facts([None if x is None else str(x) for x in row], values, as_of_year, banks, knockouts)

    return _single(reading(tuple(row)) for row in _rows(graph, FACTS_QUERY))


def _rows(graph: Graph, query: Any) -> Iterable[Any]:
    """A SELECT's result rows (rdflib types a result as any query's: rows, triples or a bool)."""
    rows: Iterable[Any] = graph.query(query)
    return rows


class FastReader:
    """`sparql_facts`'s joins over the id triples of one applicant, without an rdflib Graph."""

    def __init__(self, ontology: ClosedOntology) -> None:
        i = ontology.id_of
        self.type, self.persona = i(v.TYPE), i(v.PERSONA)
        self.ingreso, self.credito, self.historial = i(v.INGRESO), i(v.CREDITO), i(v.HISTORIAL)
        self.name, self.anio, self.riesgo = i(v.NAME), i(v.ANIO_NACIMIENTO), i(v.RIESGO_IMPAGO)
        self.tiene_ingreso, self.tiene_credito, self.tiene_historial = (
            i(v.TIENE_INGRESO), i(v.TIENE_CREDITO), i(v.TIENE_HISTORIAL)
        )  # fmt: skip
        self.monto_ingreso, self.monto, self.plazo = i(v.MONTO_INGRESO), i(v.MONTO), i(v.PLAZO)
        self.puntaje, self.capacidad = i(v.PUNTAJE), i(v.CAPACIDAD)
        self.pd, self.bancos_elegibles = i(v.PROBABILIDAD_INCUMPLIMIENTO), i(v.BANCOS_ELEGIBLES)
        self.banco_elegible, self.eliminatoria = i(v.BANCO_ELEGIBLE), i(v.RESPUESTA_ELIMINATORIA)

    def read(self, triples: Iterable[IdTriple], terms: LocalTerms, as_of_year: int) -> ExpertFacts:
        objects: dict[tuple[int, int], list[int]] = {}
        for s, p, o in triples:
            key = (s, p)
            if key in objects:
                objects[key].append(o)
            else:
                objects[key] = [o]
        type_ = self.type
        none: list[int] = []

        def of(s: int, p: int) -> list[int]:
            return objects.get((s, p), none)

        def typed(nodes: list[int], cls: int) -> list[int]:
            return [n for n in nodes if cls in of(n, type_)]

        def through(nodes: list[int], p: int) -> list[int]:
            return [x for n in nodes for x in of(n, p)]

        readings: list[ExpertFacts] = []
        persons = [s for (s, p), os in objects.items() if p == type_ and self.persona in os]
        for person in persons:
            incomes = typed(of(person, self.tiene_ingreso), self.ingreso)
            credits = typed(of(person, self.tiene_credito), self.credito)
            records = typed(of(person, self.tiene_historial), self.historial)
            columns = (
                of(person, self.name),
                of(person, self.anio),
                of(person, self.riesgo),
                through(incomes, self.monto_ingreso),
                through(records, self.puntaje),
                through(records, self.capacidad),
                through(credits, self.monto),
                through(credits, self.plazo),
                _or_none(through(records, self.pd)),  # optional, as in the query
                _or_none(through(credits, self.bancos_elegibles)),
            )
            lexical: Callable[[int], str] = terms.lexical
            value: Callable[[int], Any] = terms.value
            banks = sorted({lexical(x) for x in through(credits, self.banco_elegible)})
            knockouts = sorted({lexical(x) for x in of(person, self.eliminatoria)})
            readings.extend(
                _facts(
                    [None if x is None else lexical(x) for x in row],
                    [None if x is None else value(x) for x in row],
                    as_of_year,
                    banks,
                    knockouts,
                )
                for row in product(*columns)
            )
        return _single(readings)
