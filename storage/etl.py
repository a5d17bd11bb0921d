"""ETL of historical clients into `loan_outcomes` (seed 000: automated ETL with data quality).

A *mapping* (TOML; built-ins in storage/etl_sources/) declares the exact columns of a source file with their
types and ranges, which column is the observed default and how source columns feed the common segment
columns. `load_file` then:

1. refuses a file whose header is not exactly the declared columns (`EtlError` naming the missing and the
   unexpected ones);
2. validates every row with a pydantic model built from the mapping — a bad row is rejected with its line
   and the reason (never dropped silently, never coerced: NaN/inf, out-of-range values, unknown categories,
   empty required cells and wrong field counts are all rejections);
3. de-duplicates: a row whose key (the source's id column, else a hash of the validated row) was already
   seen in the file is reported as a duplicate, and one already in the database (same source) is skipped —
   re-running a file loads nothing twice;
4. inserts in batches (`INSERT … ON CONFLICT DO NOTHING` on `(source, row_hash)`, safe against a
   concurrent run) with a tqdm progress bar on stderr;
5. returns the quality report, also stored in `etl_loads.report`.

Outcomes of loans that Asesor assessed (source `asesor`: the bank's performance file) name the assessment:
the loader fills what the file lacks — predicted PD, origination date, recommended bank and the applicant's
segment codes — from that stored assessment, so the delinquency view compares observed defaults with the PD
predicted for the same loans (calibration by segment) without joining at query time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import Assessment, EtlLoad, LoanOutcome
from storage.types import utcnow

BUILTIN_DIR = Path(__file__).resolve().parent / "etl_sources"
BUILTIN_SOURCES = ("scoring_bancario", "german", "taiwan", "asesor")
MAX_LISTED_REJECTIONS = 10_000

# SPEC §2 tenure codes by years in the job (their definition: < 6 months, 6 months–1 year, 1–2 years, more)
TENURE_BY_YEARS = ((0.5, "menos_6m"), (1.0, "6m_1a"), (2.0, "1a_2a"), (math.inf, "mas_2a"))


def _utc_day(value: Any) -> datetime:
    """A validated date ('YYYY-MM-DD' once dumped to JSON) as midnight UTC."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


NORMALIZED: dict[str, Any] = {
    "age": int,
    "income": float,
    "amount": float,
    "term_months": int,
    "employed": bool,
    "tenure_years": float,
    "income_band": str,
    "tenure": str,
    "payroll_bank": str,
    "recommended_bank": str,
    "originated_at": _utc_day,
    "assessment_id": str,
    "predicted_pd": float,
}
# what a linked assessment supplies when the outcome file lacks it (outcome column -> assessment column)
FROM_ASSESSMENT = {
    "predicted_pd": "pd",
    "originated_at": "created_at",
    "recommended_bank": "recommended_bank",
    "income_band": "income_band",
    "tenure": "tenure",
    "payroll_bank": "payroll_bank",
}


class EtlError(Exception):
    """The file cannot be loaded at all (unknown source, unreadable file, wrong columns). str() is plain English
    (logs, developers); `code` (unknown_source, invalid_mapping, file_not_found, unreadable, file_empty, not_text,
    malformed_csv, columns_mismatch) and the details (the payload's values) let an adapter say it in its own
    words (core.copy_es.etl_message)."""

    def __init__(self, message: str, *, code: str = "etl_error", **details: Any):
        super().__init__(message)
        self.code = code
        self.payload = {"error": message, **details}


class MappingCheck(ValueError):
    """A check of a mapping file that failed: `kind` and `ctx` as engine.policy.PolicyCheck's."""

    def __init__(self, kind: str, message: str, **ctx: Any) -> None:
        super().__init__(message)
        self.kind, self.ctx = kind, ctx


def _mapping_issues(exc: tomllib.TOMLDecodeError | ValidationError) -> list[dict[str, Any]]:
    """What is wrong with a mapping file, as {"key", "type", "ctx"} (core.copy_es.etl_mapping_problem)."""
    if isinstance(exc, tomllib.TOMLDecodeError):
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        ctx: dict[str, Any] = {"line": int(where[1]), "column": int(where[2])} if where else {}
        if not where and "at end of document" in str(exc):
            ctx = {"at_end": True}
        return [{"key": "", "type": "invalid_toml", "ctx": ctx}]
    issues = []
    for err in exc.errors(include_url=False):
        ctx = dict(err.get("ctx") or {})
        check = ctx.pop("error", None)
        key = ".".join(str(p) for p in err["loc"])
        if isinstance(check, MappingCheck):
            issues.append({"key": key, "type": check.kind, "ctx": check.ctx})
        else:
            plain = {k: v if isinstance(v, int | float | str | bool | None) else str(v) for k, v in ctx.items()}
            issues.append({"key": key, "type": err["type"], "ctx": plain})
    return issues


# ------------------------------------------------------------------------------------------------ mapping
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnSpec(_Strict):
    type: Literal["int", "float", "category", "str", "bool", "date"]  # date: ISO 'YYYY-MM-DD'
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None  # allowed values of a category
    required: bool = True

    @model_validator(mode="after")
    def _check(self) -> ColumnSpec:
        if self.type == "category" and not self.values:
            raise MappingCheck("category_values", "a category column needs `values`")
        return self


class NormalizeSpec(_Strict):
    column: str
    map: dict[str, Any] | None = None  # source value (as text) -> normalised value
    bins: list[float] | None = None  # upper bounds (exclusive) of each label but the last
    labels: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> NormalizeSpec:
        if (self.bins is None) != (self.labels is None):
            raise MappingCheck("bins_labels", "`bins` and `labels` go together")
        if self.bins is not None and self.labels is not None and len(self.labels) != len(self.bins) + 1:
            raise MappingCheck("labels_count", "`labels` must have one more entry than `bins`")
        return self


class SourceSpec(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    currency: str | None = None
    id_column: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"


class TargetSpec(_Strict):
    column: str
    default_values: list[str]
    good_values: list[str]


class Mapping(_Strict):
    source: SourceSpec
    target: TargetSpec
    columns: dict[str, ColumnSpec]
    normalize: dict[str, str | NormalizeSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        for col in [self.target.column, self.source.id_column] + [
            n if isinstance(n, str) else n.column for n in self.normalize.values()
        ]:
            if col and col not in self.columns:
                raise MappingCheck(
                    "column_undeclared", f"column {col!r} is used but not declared in [columns]", column=col
                )
        unknown = set(self.normalize) - set(NORMALIZED)
        if unknown:
            raise MappingCheck(
                "unknown_normalized",
                f"unknown normalised columns {sorted(unknown)}; allowed: {sorted(NORMALIZED)}",
                unknown=sorted(unknown),
                allowed=sorted(NORMALIZED),
            )
        return self


def load_mapping(source: str) -> Mapping:
    """A built-in source name (scoring_bancario, german, taiwan) or the path of a mapping TOML file."""
    path = BUILTIN_DIR / f"{source}.toml" if source in BUILTIN_SOURCES else Path(source)
    if not path.is_file():
        raise EtlError(
            f"unknown source {source!r}: use one of {', '.join(BUILTIN_SOURCES)} or a MAPPING.toml path",
            code="unknown_source",
            source=source,
            known=list(BUILTIN_SOURCES),
        )
    try:
        return Mapping.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise EtlError(
            f"invalid mapping {path}",
            code="invalid_mapping",
            detail=str(exc),
            path=str(path),
            issues=_mapping_issues(exc),
        ) from None


def _field_type(spec: ColumnSpec) -> Any:
    kw: dict[str, Any] = {}
    if spec.min is not None:
        kw["ge"] = spec.min
    if spec.max is not None:
        kw["le"] = spec.max
    base: Any
    if spec.type == "int":
        base = Annotated[int, Field(strict=False, **kw)]
    elif spec.type == "float":
        base = Annotated[float, Field(allow_inf_nan=False, **kw)]
    elif spec.type == "category":
        base = Literal[tuple(spec.values or ())]
    elif spec.type == "bool":
        base = bool
    elif spec.type == "date":
        base = date
    else:
        base = str
    return base if spec.required else base | None


def row_model(mapping: Mapping) -> type[BaseModel]:
    fields: dict[str, Any] = {
        f"c{i}": (_field_type(spec), Field(alias=name)) for i, (name, spec) in enumerate(mapping.columns.items())
    }
    return create_model(
        f"Row_{mapping.source.name}", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
    )


# ----------------------------------------------------------------------------------------------- loading
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tenure_code(years: float | None) -> str | None:
    if years is None:
        return None
    for bound, code in TENURE_BY_YEARS:
        if years < bound:
            return code
    return None


def _normalize(mapping: Mapping, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target, spec in mapping.normalize.items():
        if isinstance(spec, str):
            value = row.get(spec)
            out[target] = None if value is None else NORMALIZED[target](value)
            continue
        value = row.get(spec.column)
        if value is None:
            out[target] = None
        elif spec.map is not None:
            out[target] = spec.map.get(str(value))
        elif spec.bins is not None and spec.labels is not None:
            idx = sum(1 for b in spec.bins if float(value) >= b)
            out[target] = spec.labels[idx]
        else:
            out[target] = NORMALIZED[target](value)
    if out.get("tenure") is None and out.get("tenure_years") is not None:
        out["tenure"] = _tenure_code(out["tenure_years"])
    return out


def _reasons(exc: ValidationError, aliases: dict[str, str]) -> list[str]:
    reasons = []
    for err in exc.errors(include_url=False, include_context=False):
        loc = ".".join(aliases.get(str(p), str(p)) for p in err["loc"])
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        reasons.append(f"{loc}: {err['msg']}{shown}")
    return reasons


class _Profile:
    """Per-column quality figures of the loaded rows (min/max/mean, or value counts)."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.num_cols = [c for c, s in mapping.columns.items() if s.type in ("int", "float")]
        self.cat_cols = [c for c, s in mapping.columns.items() if s.type not in ("int", "float")]
        self.num: dict[str, list[float]] = {c: [0, math.inf, -math.inf, 0.0] for c in self.num_cols}
        self.cat: dict[str, Counter[str]] = {c: Counter() for c in self.cat_cols}
        self.nulls: Counter[str] = Counter()

    def add(self, row: dict[str, Any]) -> None:
        for col in self.num_cols:
            v = row[col]
            if v is None:
                self.nulls[col] += 1
                continue
            s = self.num[col]
            s[0] += 1
            if v < s[1]:
                s[1] = v
            if v > s[2]:
                s[2] = v
            s[3] += v
        for col in self.cat_cols:
            v = row[col]
            if v is None:
                self.nulls[col] += 1
            else:
                self.cat[col][str(v)] += 1

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for col in self.mapping.columns:
            if col in self.num and self.num[col][0]:
                n, lo, hi, total = self.num[col]
                out[col] = {"min": lo, "max": hi, "mean": round(total / n, 6), "nulls": self.nulls[col]}
            elif self.cat.get(col):
                out[col] = {"values": dict(self.cat[col].most_common(20)), "nulls": self.nulls[col]}
            else:
                out[col] = {"nulls": self.nulls[col]}
        return out


def _read_rows(path: Path, mapping: Mapping) -> Iterator[tuple[int, list[str] | None, dict[str, str]]]:
    with path.open(newline="", encoding=mapping.source.encoding) as fh:
        reader = csv.reader(fh, delimiter=mapping.source.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise EtlError("the file is empty (no header)", code="file_empty", file=str(path)) from None
        except UnicodeDecodeError as exc:
            encoding = mapping.source.encoding
            message = f"the file is not {encoding} text: {exc}"
            raise EtlError(message, code="not_text", file=str(path), encoding=encoding) from None
        except csv.Error as exc:  # e.g. a header field over csv's field limit: was exit 70, "Error inesperado"
            message = f"malformed CSV at line {reader.line_num}: {exc}"
            raise EtlError(message, code="malformed_csv", file=str(path), line=reader.line_num) from None
        header = [h.strip() for h in header]
        expected = list(mapping.columns)
        missing = [c for c in expected if c not in header]
        unexpected = [c for c in header if c not in mapping.columns]
        dupes = sorted({c for c in header if header.count(c) > 1})
        if missing or unexpected or dupes:
            raise EtlError(
                "the file's columns do not match the source "
                f"{mapping.source.name!r}: missing {missing}, unexpected {unexpected}"
                + (f", repeated {dupes}" if dupes else ""),
                code="columns_mismatch",
                file=str(path),
                source=mapping.source.name,
                missing_columns=missing,
                unexpected_columns=unexpected,
                repeated_columns=dupes,
            )
        yield 1, header, {}
        try:
            for fields in reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line
                if len(fields) != len(header):
                    yield reader.line_num, None, {"__fields__": str(len(fields))}
                    continue
                yield reader.line_num, None, dict(zip(header, fields, strict=True))
        except csv.Error as exc:
            message = f"malformed CSV at line {reader.line_num}: {exc}"
            raise EtlError(message, code="malformed_csv", file=str(path), line=reader.line_num) from None
        except UnicodeDecodeError as exc:
            encoding = mapping.source.encoding
            message = f"the file is not {encoding} text: {exc}"
            raise EtlError(message, code="not_text", file=str(path), encoding=encoding) from None


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)


def load_file(
    engine: Engine,
    path: Path | str,
    source: str | Mapping,
    *,
    batch_size: int = 2000,
    progress: bool = True,
    rejects_path: Path | None = None,
) -> dict[str, Any]:
    """Load one file into `loan_outcomes`; returns (and stores) the quality report."""
    path = Path(path)
    mapping = source if isinstance(source, Mapping) else load_mapping(source)
    if not path.is_file():
        raise EtlError(f"file not found: {path}", code="file_not_found", file=str(path))
    model = row_model(mapping)
    aliases = {f"c{i}": name for i, name in enumerate(mapping.columns)}
    rows = _read_rows(path, mapping)
    try:
        next(rows)  # header checked before anything is written
    except OSError as exc:  # there, but not readable (permissions): the same JSON error, not a bug
        message = f"cannot read {path}: {exc.strerror or exc}"
        raise EtlError(message, code="unreadable", file=str(path), errno=exc.errno) from None
    started = utcnow()
    sha = _sha256_file(path)
    with engine.begin() as conn:
        load_id = conn.execute(
            insert(EtlLoad)
            .values(source=mapping.source.name, file_name=path.name, file_sha256=sha, started_at=started, report={})
            .returning(EtlLoad.id)
        ).scalar_one()

    name = mapping.source.name
    seen: dict[str, int] = {}
    rejections: list[dict[str, Any]] = []
    by_reason: Counter[str] = Counter()
    counts = Counter(
        read=0, loaded=0, rejected=0, duplicate_in_file=0, already_loaded=0, defaults=0, linked=0, unknown_assessment=0
    )
    profile = _Profile(mapping)
    batch: list[dict[str, Any]] = []
    rejects_fh = rejects_path.open("w", encoding="utf-8") if rejects_path else None

    def reject(line: int, reasons: list[str]) -> None:
        counts["rejected"] += 1
        for r in reasons:
            by_reason[r.split(" (got ")[0]] += 1
        entry = {"line": line, "reasons": reasons}
        if len(rejections) < MAX_LISTED_REJECTIONS:
            rejections.append(entry)
        if rejects_fh:
            rejects_fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def link(conn: Any) -> None:
        """Fill what linked outcomes lack from their stored assessments; count unknown assessment ids."""
        ids = {r["assessment_id"] for r in batch if r["assessment_id"]}
        if not ids:
            return
        cols = [getattr(Assessment, c) for c in dict.fromkeys(FROM_ASSESSMENT.values())]
        found = {
            row.id: row._mapping for row in conn.execute(select(Assessment.id, *cols).where(Assessment.id.in_(ids)))
        }
        for r in batch:
            a = found.get(r["assessment_id"]) if r["assessment_id"] else None
            if r["assessment_id"] and a is None:
                counts["unknown_assessment"] += 1
            elif a is not None:
                counts["linked"] += 1
                for target, col in FROM_ASSESSMENT.items():
                    if r[target] is None:
                        r[target] = a[col]

    def flush() -> None:
        if not batch:
            return
        hashes = [r["row_hash"] for r in batch]
        with engine.begin() as conn:
            link(conn)
            existing = set(
                conn.scalars(
                    select(LoanOutcome.row_hash).where(LoanOutcome.source == name, LoanOutcome.row_hash.in_(hashes))
                )
            )
            new = [r for r in batch if r["row_hash"] not in existing]
            if new:
                ins = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
                conn.execute(ins(LoanOutcome).on_conflict_do_nothing(index_elements=["source", "row_hash"]), new)
        counts["already_loaded"] += len(batch) - len(new)
        counts["loaded"] += len(new)
        for r in new:
            counts["defaults"] += int(r["defaulted"])
        batch.clear()

    from tqdm import tqdm

    # disable=None: a bar only on a terminal, never `\r`-joined lines in a log file
    bar = tqdm(
        total=_count_lines(path),
        file=sys.stderr,
        unit="filas",
        desc=f"etl {name}",
        disable=None if progress else True,
        mininterval=0.5,
    )
    try:
        for line, _, raw in rows:
            counts["read"] += 1
            bar.update(1)
            if "__fields__" in raw:
                reject(line, [f"expected {len(mapping.columns)} fields, got {raw['__fields__']}"])
                continue
            values: dict[str, Any] = {}
            empty = []
            for col, spec in mapping.columns.items():
                cell = raw[col].strip()
                if cell == "":
                    if spec.required:
                        empty.append(f"{col}: required value is empty")
                    values[col] = None
                else:
                    values[col] = cell
            if empty:
                reject(line, empty)
                continue
            try:
                validated = model.model_validate(values).model_dump(by_alias=True, mode="json")
            except ValidationError as exc:
                reject(line, _reasons(exc, aliases))
                continue
            target = str(validated[mapping.target.column])
            if target in mapping.target.default_values:
                defaulted = True
            elif target in mapping.target.good_values:
                defaulted = False
            else:
                reject(line, [f"{mapping.target.column}: not a known outcome (got {target!r})"])
                continue
            id_col = mapping.source.id_column
            external_id = str(validated[id_col]) if id_col else None
            key = f"id:{external_id}" if external_id else json.dumps(validated, sort_keys=True, default=str)
            row_hash = hashlib.sha256(f"{name}\x1f{key}".encode()).hexdigest()
            if row_hash in seen:
                counts["duplicate_in_file"] += 1
                reject_dup = {"line": line, "reasons": [f"duplicate of line {seen[row_hash]}"]}
                if len(rejections) < MAX_LISTED_REJECTIONS:
                    rejections.append({**reject_dup, "duplicate": True})
                continue
            seen[row_hash] = line
            profile.add(validated)
            batch.append(
                {
                    "source": name,
                    "row_hash": row_hash,
                    "external_id": external_id,
                    "load_id": load_id,
                    "line": line,
                    "defaulted": defaulted,
                    "currency": mapping.source.currency,
                    "features": validated,
                    **{k: None for k in NORMALIZED},
                    **_normalize(mapping, validated),
                }
            )
            if len(batch) >= batch_size:
                flush()
        flush()
    finally:
        bar.close()
        if rejects_fh:
            rejects_fh.close()

    finished = utcnow()
    report = {
        "load_id": load_id,
        "source": name,
        "file": str(path),
        "file_sha256": sha,
        "rows_read": counts["read"],
        "rows_loaded": counts["loaded"],
        "rows_rejected": counts["rejected"],
        "rows_duplicate_in_file": counts["duplicate_in_file"],
        "rows_already_loaded": counts["already_loaded"],
        "default_rate_loaded": round(counts["defaults"] / counts["loaded"], 6) if counts["loaded"] else None,
        # outcomes whose assessment was found (and filled from it), and those naming one this database lacks
        "rows_linked_to_assessment": counts["linked"],
        "rows_unknown_assessment": counts["unknown_assessment"],
        "rejections": rejections,
        "rejections_listed": len(rejections),
        "rejections_by_reason": dict(by_reason.most_common()),
        "columns": profile.report(),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
    }
    with engine.begin() as conn:
        conn.execute(
            update(EtlLoad)
            .where(EtlLoad.id == load_id)
            .values(
                finished_at=finished,
                rows_read=counts["read"],
                rows_loaded=counts["loaded"],
                rows_rejected=counts["rejected"],
                rows_duplicate=counts["duplicate_in_file"] + counts["already_loaded"],
                report=report,
            )
        )
    return report
