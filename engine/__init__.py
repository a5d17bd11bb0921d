"""Asesor's engine: pure assessors (bank fit, fuzzy risk, ontology, expert system, PD) behind `assess`.

It imports nothing else of the project and does no I/O at assessment time: policy and model are loaded
once, when an Assessor is built.
"""

ENGINE_VERSION = "1.0.0"
