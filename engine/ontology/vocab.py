"""Namespaces and the terms of credit.ttl that the engine uses by name."""

from __future__ import annotations

from pathlib import Path

from rdflib import Namespace
from rdflib.namespace import DC, FOAF, OWL, RDF, RDFS, XSD, DefinedNamespace

ONTOLOGY_PATH = Path(__file__).with_name("credit.ttl")

EX = Namespace("http://practica1.org/evaluacion_creditos#")

# prefixes of exported Turtle (and of the SPARQL queries)
PREFIXES: dict[str, Namespace | type[DefinedNamespace]] = {
    "ex": EX,
    "foaf": FOAF,
    "dc": DC,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
}

TYPE = RDF.type
RESOURCE = RDFS.Resource

# classes
PERSONA = EX.Persona
EMPLEADO = EX.Empleado
INGRESO = EX.Ingreso
CREDITO = EX.Credito
HISTORIAL = EX.Historial
PUNTAJE_CREDITICIO = EX.PuntajeCrediticio
CAPACIDAD_ENDEUDAMIENTO = EX.CapacidadEndeudamiento

# properties of the seed's table
NAME = FOAF.name
ANIO_NACIMIENTO = EX.anioNacimiento
TIENE_INGRESO = EX.tieneIngreso
MONTO_INGRESO = EX.montoIngreso
TIENE_CREDITO = EX.tieneCredito
MONTO = EX.monto
MONTO_SOLICITADO = EX.montoSolicitado
PLAZO = EX.plazo
TIENE_HISTORIAL = EX.tieneHistorial
PUNTAJE = EX.puntajeCrediticio
CAPACIDAD = EX.capacidadEndeudamiento
ESTADO_CREDITO = EX.estadoCredito
ESTABILIDAD_LABORAL = EX.estabilidadLaboral
IDENTIFIER = DC.identifier

# extensions (marked as such in credit.ttl)
RIESGO_IMPAGO = EX.riesgoImpago
PROBABILIDAD_INCUMPLIMIENTO = EX.probabilidadIncumplimiento
BANCO_RECOMENDADO = EX.bancoRecomendado
BANCO_ELEGIBLE = EX.bancoElegible
BANCOS_ELEGIBLES = EX.bancosElegibles
RESPUESTA_ELIMINATORIA = EX.respuestaEliminatoria

# RDFS vocabulary that states schema, not facts about an instance: the fast path refuses applicant triples
# that use it (they would change the ontology, whose closure is computed once).
SCHEMA_PREDICATES = frozenset({RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range})
# classes whose instances trigger schema rules (rdfs6, rdfs8, rdfs10, rdfs12, datatype subclassing)
META_CLASSES = frozenset({RDF.Property, RDFS.Class, RDFS.ContainerMembershipProperty, RDFS.Datatype, OWL.Class})

# every term the applicant builder and the read-back use, interned by the closed ontology at load
BUILDER_TERMS = (
    TYPE, RESOURCE, PERSONA, EMPLEADO, INGRESO, CREDITO, HISTORIAL, PUNTAJE_CREDITICIO, CAPACIDAD_ENDEUDAMIENTO,
    NAME, ANIO_NACIMIENTO, TIENE_INGRESO, MONTO_INGRESO, TIENE_CREDITO, MONTO, MONTO_SOLICITADO, PLAZO,
    TIENE_HISTORIAL, PUNTAJE, CAPACIDAD, ESTADO_CREDITO, ESTABILIDAD_LABORAL, IDENTIFIER, RIESGO_IMPAGO,
    PROBABILIDAD_INCUMPLIMIENTO, BANCO_RECOMENDADO, BANCO_ELEGIBLE, BANCOS_ELEGIBLES, RESPUESTA_ELIMINATORIA,
)  # fmt: skip
