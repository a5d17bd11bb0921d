"""The applicant graph: the triples one assessment asserts, before reasoning.

Only the most specific facts are asserted; the reasoner infers the rest and the expert facts are read
back from what it inferred:

- the applicant node gets no rdf:type: it becomes ex:Empleado through the domain of ex:estabilidadLaboral
  and ex:Persona through ex:Empleado ⊑ ex:Persona and the domains of foaf:name, ex:tieneIngreso, …;
- the income is an ex:IngresoFijo or ex:IngresoVariable (by the answer band, policy [ontology]); it
  becomes an ex:Ingreso by subclass and by the range of ex:tieneIngreso;
- the credit is an ex:CreditoVehicular with ex:montoSolicitado only: ex:monto, which the read-back uses,
  exists only through ex:montoSolicitado ⊑ ex:monto;
- the score and the debt capacity are two records, an ex:PuntajeCrediticio and an
  ex:CapacidadEndeudamiento (the seed's subclasses of ex:Historial), linked by ex:tieneHistorial.

Node names and dc:identifier carry a short digest of the asserted values (or of the caller's assessment
id), never the applicant's name. foaf:name is a pseudonym ("Solicitante <digest>") unless the caller
asks for the real name with `include_name=True`: the inferred graph is exported for audit.

The builder emits id triples (see reasoner.py) and keeps its new terms as plain data (`LocalTerms`);
rdflib terms are made only when the graph is exported or queried with SPARQL.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from engine.ontology import vocab as v
from engine.ontology.reasoner import ClosedOntology, IdTriple, Key, make_term
from engine.policy import Policy
from engine.types import AssessmentRequest, Derived

_DECIMAL, _INTEGER, _STRING, _GYEAR = str(XSD.decimal), str(XSD.integer), str(XSD.string), str(XSD.gYear)


@dataclass(frozen=True, slots=True)
class ApplicantNodes:
    person: URIRef
    income: URIRef
    credit: URIRef
    score_record: URIRef
    capacity_record: URIRef
    identifier: str


class LocalTerms:
    """The terms one applicant adds to the ontology's, as plain data; rdflib terms made on demand.

    Ids continue the ontology's numbering; an equal term always gets the same id (the ontology's own id
    when the ontology has the term), as the reasoner requires.
    """

    __slots__ = ("_index", "base", "keys", "ontology", "values")

    def __init__(self, ontology: ClosedOntology) -> None:
        self.ontology = ontology
        self.base = len(ontology.terms)
        self.keys: list[Key] = []
        self.values: list[Any] = []  # rdflib's Python value of a literal (None for a node or no value)
        self._index: dict[Key, int] = {}

    def intern(self, key: Key, value: Any = None) -> int:
        i = self.ontology.ids.get(key)
        if i is None:
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = self.base + len(self.keys)
                self.keys.append(key)
                self.values.append(value)
        return i

    def term(self, i: int) -> Node:
        return self.ontology.terms[i] if i < self.base else make_term(self.keys[i - self.base])

    def lexical(self, i: int) -> str:
        if i < self.base:
            return str(self.ontology.terms[i])
        key = self.keys[i - self.base]
        if isinstance(key, str):
            return key
        assert isinstance(key, tuple)  # ("L", lexical, datatype, lang) or a blank node's ("B", id)
        return str(key[1])

    def value(self, i: int) -> Any:
        if i < self.base:
            term = self.ontology.terms[i]
            return term.value if isinstance(term, Literal) else None
        return self.values[i - self.base]

    def value_keys(self) -> dict[int, Any]:
        """Local literal id -> the value owlrl compares literals by (see reasoner.literal_value_key)."""
        return {self.base + k: x for k, x in enumerate(self.values) if x is not None}


@lru_cache(maxsize=512)
def _year_value(lexical: str) -> Any:
    # whatever rdflib makes of an xsd:gYear (None in rdflib 7): the reasoner compares by it
    return Literal(lexical, datatype=XSD.gYear).value


def _digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class AssertedApplicant:
    triples: list[IdTriple]
    terms: LocalTerms
    nodes: ApplicantNodes


class ApplicantBuilder:
    """Builds one applicant's asserted id triples against a closed ontology (ids looked up once)."""

    def __init__(self, ontology: ClosedOntology) -> None:
        self.ontology = ontology
        i = ontology.id_of
        self.type = i(v.TYPE)
        self.name, self.anio, self.estabilidad = i(v.NAME), i(v.ANIO_NACIMIENTO), i(v.ESTABILIDAD_LABORAL)
        self.riesgo, self.tiene_ingreso, self.monto_ingreso = i(v.RIESGO_IMPAGO), i(v.TIENE_INGRESO), i(v.MONTO_INGRESO)
        self.tiene_credito, self.monto_solicitado, self.plazo = i(v.TIENE_CREDITO), i(v.MONTO_SOLICITADO), i(v.PLAZO)
        self.estado, self.identifier, self.banco = i(v.ESTADO_CREDITO), i(v.IDENTIFIER), i(v.BANCO_RECOMENDADO)
        self.tiene_historial, self.puntaje, self.capacidad = i(v.TIENE_HISTORIAL), i(v.PUNTAJE), i(v.CAPACIDAD)
        self.pd = i(v.PROBABILIDAD_INCUMPLIMIENTO)
        self.banco_elegible, self.bancos_elegibles = i(v.BANCO_ELEGIBLE), i(v.BANCOS_ELEGIBLES)
        self.eliminatoria = i(v.RESPUESTA_ELIMINATORIA)
        self.puntaje_class, self.capacidad_class = i(v.PUNTAJE_CREDITICIO), i(v.CAPACIDAD_ENDEUDAMIENTO)

        self._classes: dict[str, int] = {}

    def class_id(self, local_name: str) -> int:
        i = self._classes.get(local_name)
        if i is None:
            i = self._classes[local_name] = self.ontology.id_of(v.EX[local_name])
        return i

    def build(
        self,
        request: AssessmentRequest,
        derived: Derived,
        *,
        risk: float,
        score: float,
        pd: float | None,
        policy: Policy,
        assessment_id: str | None = None,
        bank: str | None = None,
        eligible_banks: Sequence[str] | None = None,
        knockouts: Sequence[str] = (),
        include_name: bool = False,
    ) -> AssertedApplicant:
        o = policy.ontology
        answers, applicant = request.answers, request.applicant
        term = int(request.loan.term_months)
        stability = o.stability_label(derived.stability)
        values = (
            applicant.birth_year,
            derived.income_mxn,
            derived.requested_amount,
            term,
            derived.debt_capacity,
            risk,
            score,
            pd,
            bank,
            answers.ingreso_mensual,
            stability,
            None if eligible_banks is None else tuple(eligible_banks),
            tuple(knockouts),
        )
        digest = _digest(assessment_id) if assessment_id else _digest(*values)
        identifier = assessment_id or f"CV-{digest}"
        ex = str(v.EX)
        terms = LocalTerms(self.ontology)
        node_keys = [f"{ex}{kind}_{digest}" for kind in ("solicitante", "ingreso", "credito", "puntaje", "capacidad")]
        person, income, credit, score_record, capacity_record = (terms.intern(k) for k in node_keys)
        person_ref, income_ref, credit_ref, score_ref, capacity_ref = map(URIRef, node_keys)
        nodes = ApplicantNodes(person_ref, income_ref, credit_ref, score_ref, capacity_ref, identifier=identifier)
        name = applicant.name if include_name and applicant.name else f"Solicitante {digest}"

        def decimal(x: float, what: str) -> int:
            x = float(x)
            if not math.isfinite(x):
                raise ValueError(f"{what}: a finite number is required, got {x}")
            lexical = format(Decimal(repr(x)), "f")
            return terms.intern(("L", lexical, _DECIMAL, None), Decimal(lexical))

        def string(text: str) -> int:
            return terms.intern(("L", text, _STRING, None), text)

        year = f"{applicant.birth_year:04d}"
        t = self.type
        triples: list[IdTriple] = [
            (person, self.name, string(name)),
            (person, self.anio, terms.intern(("L", year, _GYEAR, None), _year_value(year))),
            (person, self.estabilidad, string(stability)),
            (person, self.riesgo, decimal(risk, "risk")),
            (person, self.tiene_ingreso, income),
            (income, t, self.class_id(o.income_class_by_band[answers.ingreso_mensual])),
            (income, self.monto_ingreso, decimal(derived.income_mxn, "income_mxn")),
            (person, self.tiene_credito, credit),
            (credit, t, self.class_id(o.credit_class)),
            (credit, self.monto_solicitado, decimal(derived.requested_amount, "requested_amount")),
            (credit, self.plazo, terms.intern(("L", str(term), _INTEGER, None), term)),
            (credit, self.estado, string(o.credit_state)),
            (credit, self.identifier, string(identifier)),
            (person, self.tiene_historial, score_record),
            (score_record, t, self.puntaje_class),
            (score_record, self.puntaje, decimal(score, "score")),
            (person, self.tiene_historial, capacity_record),
            (capacity_record, t, self.capacidad_class),
            (capacity_record, self.capacidad, decimal(derived.debt_capacity, "debt_capacity")),
        ]
        if pd is not None:
            triples.append((score_record, self.pd, decimal(pd, "pd")))
        if bank is not None:
            triples.append((credit, self.banco, string(bank)))
        if eligible_banks is not None:
            n = len(eligible_banks)
            triples.append((credit, self.bancos_elegibles, terms.intern(("L", str(n), _INTEGER, None), n)))
            triples.extend((credit, self.banco_elegible, string(code)) for code in eligible_banks)
        triples.extend((person, self.eliminatoria, string(answer)) for answer in knockouts)
        return AssertedApplicant(triples, terms, nodes)
