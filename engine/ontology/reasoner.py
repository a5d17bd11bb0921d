"""RDFS closure of an applicant's triples against an ontology closed once: owlrl is the reference.

`ClosedOntology` runs owlrl's `DeductiveClosure(RDFS_Semantics)` over the ontology once, at load, and keeps
its closure C plus the tables the closure implies (super-properties, domains, ranges, super-classes, the
properties it already knows, its literals). `infer(A)` then returns exactly what owlrl would add to C for
an applicant's asserted triples A, that is closure(ontology ∪ A) − closure(ontology), A's new triples
included, by replaying owlrl's RDFS rules on A alone:

- owlrl's one-time "hidden sameAs" rule: a triple whose object is a literal is copied onto every other
  literal of equal value (``"48"^^xsd:integer`` and ``"48.0"^^xsd:decimal``), the ontology's literals
  included;
- rdfs4a/4b, which owlrl applies in its first cycle only: subject and object of every asserted (or
  copied) triple are ``rdf:type rdfs:Resource``, literals included (owlrl writes generalized triples);
- rdfs7 (sub-properties), rdfs2/rdfs3 (domain, range), rdfs9 (super-classes) to a fixpoint, against C;
- rdf1 and rdfs6 for a predicate C has never seen (``p rdf:type rdf:Property``, ``p rdfs:subPropertyOf p``).

A triple already in C is not expanded: C is closed, so its consequences are in C. The fast path handles
instance data only; applicant triples that would change the schema (rdfs:subClassOf, rdfs:subPropertyOf,
rdfs:domain, rdfs:range, or a type that makes a node a class or a property) raise `SchemaChangeError`.

Terms are interned as small integers (rdflib terms hash and compare in Python, ints in C): ids below
`len(terms)` are the ontology's, larger ones are local to one call. `infer` takes and returns rdflib
triples; `infer_ids` is the same reasoning on id triples, for callers that build ids directly
(engine/ontology/applicant.py). tests/engine/test_ontology.py proves `infer(A) == reference_difference(A)`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import owlrl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.term import Node

from engine.ontology.vocab import META_CLASSES, RESOURCE, SCHEMA_PREDICATES, TYPE

Triple = tuple[Node, Node, Node]
IdTriple = tuple[int, int, int]
Key = Hashable  # a term's identity as plain data: str for an IRI, a tuple for a literal or a blank node

SEMANTICS = owlrl.RDFS_Semantics
SUBPROP = RDFS.subPropertyOf
SUBCLASS = RDFS.subClassOf
PROPERTY = RDF.Property


class SchemaChangeError(ValueError):
    """Applicant triples that would change the ontology's schema: the fast path does not apply."""


def owlrl_closure(triples: Iterable[Triple]) -> set[Triple]:
    """owlrl's RDFS closure of a new graph holding `triples` (the reference; tens of ms)."""
    graph = Graph()
    for t in triples:
        graph.add(t)
    owlrl.DeductiveClosure(SEMANTICS).expand(graph)
    return set(graph)


def term_key(term: Node) -> Key:
    """Plain-data identity of an rdflib term: equal keys if and only if rdflib's terms are equal."""
    if isinstance(term, Literal):
        lang = term.language.lower() if term.language else None
        return ("L", str(term), str(term.datatype) if term.datatype else None, lang)
    if isinstance(term, URIRef):
        return str(term)
    if isinstance(term, BNode):
        return ("B", str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def make_term(key: Key) -> Node:
    """The rdflib term of a key made by `term_key` (or by the applicant builder)."""
    if isinstance(key, str):
        return URIRef(key)
    assert isinstance(key, tuple)
    if key[0] == "L":
        return Literal(key[1], datatype=key[2], lang=key[3])
    return BNode(key[1])


def literal_value_key(lit: Literal) -> Any:
    """What owlrl compares literals by (rdflib's Python value), or None when it does not compare them."""
    value = lit.value
    if value is None:
        return None
    try:
        hash(value)
    except TypeError:
        return None
    return value


class ClosedOntology:
    """An ontology graph closed once with owlrl, and the tables to reason on applicants against it."""

    def __init__(self, ontology: Graph, extra_terms: Iterable[Node] = ()) -> None:
        self.asserted: frozenset[Triple] = frozenset(ontology)
        self.closure: frozenset[Triple] = frozenset(owlrl_closure(self.asserted))

        self.terms: list[Node] = []
        self.ids: dict[Key, int] = {}
        base = (TYPE, RESOURCE, PROPERTY, SUBPROP, SUBCLASS, RDFS.domain, RDFS.range)
        for term in (*base, *sorted(SCHEMA_PREDICATES), *sorted(META_CLASSES), *extra_terms):
            self._intern(term)
        self.closure_ids: frozenset[IdTriple] = frozenset(
            (self._intern(s), self._intern(p), self._intern(o)) for s, p, o in self.closure
        )
        for s, p, o in self.asserted:
            self._intern(s), self._intern(p), self._intern(o)
        self.type_id, self.resource_id, self.property_id, self.subprop_id = (self.ids[term_key(t)] for t in base[:4])
        self.schema_ids = frozenset(self.ids[term_key(t)] for t in SCHEMA_PREDICATES)

        superprops: dict[int, set[int]] = {}
        superclasses: dict[int, set[int]] = {}
        domains: dict[int, list[int]] = {}
        ranges: dict[int, list[int]] = {}
        tables = {
            self.subprop_id: superprops,
            self.id_of(SUBCLASS): superclasses,
        }
        lists = {self.id_of(RDFS.domain): domains, self.id_of(RDFS.range): ranges}
        for si, pi, oi in self.closure_ids:
            if pi in tables:
                tables[pi].setdefault(si, set()).add(oi)
            elif pi in lists:
                lists[pi].setdefault(si, []).append(oi)
        # C is closed under rdfs5 and rdfs11, so these are already transitive
        self.superprops = {p: tuple(sorted(q - {p})) for p, q in superprops.items() if q - {p}}
        self.superclasses = {k: tuple(sorted(v - {k})) for k, v in superclasses.items() if v - {k}}
        self.domains = {k: tuple(v) for k, v in domains.items()}
        self.ranges = {k: tuple(v) for k, v in ranges.items()}
        self.properties = frozenset(s for s, p, o in self.closure_ids if p == self.type_id and o == self.property_id)
        meta = {self.ids[term_key(t)] for t in META_CLASSES}
        self.meta_ids = frozenset(meta | {k for k, sup in superclasses.items() if sup & meta})

        # literals of the asserted ontology (owlrl's one-time rule reads the asserted graph, not C)
        self.literal_occurrences: dict[int, list[tuple[int, int]]] = {}
        self.literal_values: dict[int, Any] = {}
        groups: dict[Any, set[int]] = {}
        for s, p, o in self.asserted:
            if isinstance(o, Literal):
                oid = self.id_of(o)
                self.literal_occurrences.setdefault(oid, []).append((self.id_of(s), self.id_of(p)))
                value = literal_value_key(o)
                if value is not None:
                    groups.setdefault(value, set()).add(oid)
                    self.literal_values[oid] = value
        self.literal_groups = {k: frozenset(v) for k, v in groups.items()}
        self._check_instance_rules_stay_instance_level()

    def _intern(self, term: Node) -> int:
        key = term_key(term)
        i = self.ids.get(key)
        if i is None:
            i = self.ids[key] = len(self.terms)
            self.terms.append(term)
        return i

    def id_of(self, term: Node) -> int:
        """The id of an ontology term (or of an `extra_terms` one); KeyError for any other."""
        return self.ids[term_key(term)]

    def _check_instance_rules_stay_instance_level(self) -> None:
        """Refuse an ontology under which instance triples could derive schema (the fast path's premise)."""
        schema_or_type = self.schema_ids | {self.type_id}
        for p, sup in self.superprops.items():
            if p not in schema_or_type and set(sup) & schema_or_type:
                raise SchemaChangeError(f"{self.terms[p]} is a sub-property of a schema property: not supported")
        for p, classes in (*self.domains.items(), *self.ranges.items()):
            if p not in self.schema_ids and set(classes) & self.meta_ids:
                raise SchemaChangeError(f"the domain or range of {self.terms[p]} is a metaclass: not supported")

    # ------------------------------------------------------------------------------------------ reference
    def reference_difference(self, asserted: Iterable[Triple]) -> set[Triple]:
        """owlrl on a new graph (ontology + `asserted`), minus the ontology's own closure."""
        return owlrl_closure((*self.asserted, *asserted)) - self.closure

    # ------------------------------------------------------------------------------------------ fast path
    def infer(self, asserted: Iterable[Triple]) -> set[Triple]:
        """closure(ontology ∪ asserted) − closure(ontology), as owlrl's RDFS semantics computes it."""
        n, ids = len(self.terms), self.ids
        local: dict[Key, int] = {}
        local_terms: list[Node] = []
        value_keys: dict[int, Any] = {}

        def intern(term: Node) -> int:
            key = term_key(term)
            i = ids.get(key)
            if i is None:
                i = local.get(key)
                if i is None:
                    i = local[key] = n + len(local_terms)
                    local_terms.append(term)
                    if isinstance(term, Literal) and (value := literal_value_key(term)) is not None:
                        value_keys[i] = value
            return i

        id_triples = [(intern(s), intern(p), intern(o)) for s, p, o in asserted]
        terms = self.terms

        def term(i: int) -> Node:
            return terms[i] if i < n else local_terms[i - n]

        return {(term(s), term(p), term(o)) for s, p, o in self.infer_ids(id_triples, value_keys)}

    def infer_ids(self, asserted: list[IdTriple], value_keys: dict[int, Any]) -> set[IdTriple]:
        """`infer` on id triples. value_keys: each local literal id -> `literal_value_key` of its literal."""
        type_, resource, property_, subprop = self.type_id, self.resource_id, self.property_id, self.subprop_id
        for _s, p, o in asserted:
            if p in self.schema_ids:
                raise SchemaChangeError(f"applicant triple uses the schema predicate {self.terms[p]}")
            if p == type_ and o in self.meta_ids:
                raise SchemaChangeError(f"applicant triple makes a node a class or a property ({self.terms[o]})")

        stack: list[IdTriple] = []
        for s, p, o in asserted + self._literal_copies(asserted, value_keys):
            stack.append((s, p, o))
            stack.append((s, type_, resource))
            stack.append((o, type_, resource))

        closure, superprops, superclasses = self.closure_ids, self.superprops, self.superclasses
        domains, ranges, properties = self.domains, self.ranges, self.properties
        seen: set[IdTriple] = set()
        new: set[IdTriple] = set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in closure:
                continue
            new.add(t)
            s, p, o = t
            if p in superprops:
                stack.extend([(s, q, o) for q in superprops[p]])
            if p in domains:
                stack.extend([(s, type_, c) for c in domains[p]])
            if p in ranges:
                stack.extend([(o, type_, c) for c in ranges[p]])
            if p == type_:
                if o in superclasses:
                    stack.extend([(s, type_, c) for c in superclasses[o]])
                if o == property_:  # rdfs6; reached only for a predicate C never saw (rdf1 below)
                    stack.append((s, subprop, s))
            if p not in properties:  # rdf1
                stack.append((p, type_, property_))
        return new

    def _literal_copies(self, triples: list[IdTriple], value_keys: dict[int, Any]) -> list[IdTriple]:
        """owlrl's one-time rule: copy each literal-object triple onto the other literals of equal value."""
        mine: dict[Any, set[int]] = {}
        occurrences: dict[int, list[tuple[int, int]]] = {}
        ontology_values = self.literal_values
        for s, p, o in triples:
            value = value_keys[o] if o in value_keys else ontology_values.get(o)
            if value is not None:
                occurrences.setdefault(o, []).append((s, p))
                mine.setdefault(value, set()).add(o)
        copies: list[IdTriple] = []
        for value, lits in mine.items():
            members = lits | self.literal_groups.get(value, frozenset())
            if len(members) < 2:
                continue
            for lt1 in members:
                where = occurrences.get(lt1, []) + self.literal_occurrences.get(lt1, [])
                copies.extend((s, p, lt2) for lt2 in members if lt2 != lt1 for s, p in where)
        return copies
