"""Spanish copy of the operator surfaces, in one place: `asesor` help and errors, the API's problem details.

The applicant's copy (the dialog, the web chat) is `dialogs/texts.py`; this module is the copy read by the people
who run Asesor (analysts, administrators, support): every help text of the command line, the words of the help
screens themselves (click's and typer's stock "Usage", "Options", "Show this message and exit."), the CLI's
JSON error messages that are not a library's, and the titles and field messages of the API's problem+json.
Names are `<COMMAND>_<WHAT>`; a text used by several commands has a name of its own (`POLICY_FILE`, `DB_URL`).
"""

from __future__ import annotations

from typing import Any

# ------------------------------------------------------------------------------------ help screens' own words
HELP_OPTION = "Muestra esta ayuda y sale."
INSTALL_COMPLETION = "Instala el autocompletado para la shell actual."
SHOW_COMPLETION = "Muestra el autocompletado para la shell actual, para copiarlo o ajustar la instalación."
USAGE_PREFIX = "Uso: "
OPTIONS_METAVAR = "[OPCIONES]"
SUBCOMMAND_METAVAR = "COMANDO [ARGS]..."
PANEL_ARGUMENTS = "Argumentos"
PANEL_OPTIONS = "Opciones"
PANEL_COMMANDS = "Comandos"
PANEL_ERROR = "Error"
DEFAULT_VALUE = "[por omisión: {}]"
ENVVAR_VALUE = "[variable de entorno: {}]"
REQUIRED_VALUE = "[obligatorio]"
DEPRECATED = "(obsoleto) "
ABORTED = "Interrumpido."
TRY_HELP = "Prueba [blue]'{command_path} {help_option}'[/] para ver la ayuda."

# --------------------------------------------------------------------------------------- texts several share
POLICY_FILE = "Archivo de política (por omisión: ASESOR_POLICY o la incluida)."
MODEL_DIR = "Directorio de modelos (por omisión: ASESOR_MODEL_DIR o var/models)."
DB_URL = "URL de la base de datos (por omisión: DATABASE_URL o SQLite en var/)."
PROGRESS = "Barra de progreso en stderr (solo en una terminal)."
NO_PROGRESS = "Sin barra de progreso en stderr (fuera de una terminal nunca la hay)."
WORKERS_ALL_CORES = "Procesos (por omisión: todos los núcleos)."
VERSION_IN_SERVICE = "Versión (por omisión: la que está en servicio)."
LOG_LEVEL = "Nivel de los registros en stderr: DEBUG, INFO, WARNING, ERROR."
LOG_FORMAT = "Formato de los registros: auto (texto en una terminal), json o console."
SERVICE_LOG_LEVEL = "DEBUG, INFO, WARNING, ERROR (por omisión: ASESOR_LOG_LEVEL; si no, INFO)."
SERVICE_LOG_FORMAT = "auto, json, console (por omisión: ASESOR_LOG_FORMAT; si no, auto)."
OPTION_ONE_OF = "{option} debe ser uno de {choices}."

# ------------------------------------------------------------------------------------------------- asesor
ROOT = "Asesor: motor de evaluación de crédito automotriz, bot, API y herramientas de analistas."
ROOT_DEBUG = "Mostrar el traceback completo de un error."

ASSESS = "Evalúa perfiles (JSON en stdin) y escribe los resultados (JSON en stdout)."
ASSESS_JSONL = "Leer un objeto JSON por línea."
ASSESS_WORKERS = "Procesos para --jsonl (por omisión: todos los núcleos)."
ASSESS_AS_OF = "Fecha de la evaluación AAAA-MM-DD (por omisión: hoy)."

BOT = "Bot de Telegram del solicitante (polling local o webhook en producción)."
BOT_MODE = "polling | webhook (por omisión: BOT_MODE; si no, polling)."
BOT_FRAMEWORK = "aiogram | ptb (python-telegram-bot): el mismo diálogo, estado y claves de Redis."
BOT_HOST = "Modo webhook: dirección donde escuchar."
BOT_PORT = "Modo webhook: puerto donde escuchar."
BOT_WORKERS = "Modo webhook: procesos del bot que comparten el puerto (estado y candados en Redis)."
BOT_PIN_CPUS = "Con --workers: el proceso i siempre en la CPU i (una máquina o contenedor propio)."

CHAT = "Conversación del solicitante en la terminal (el mismo diálogo que el bot y el chat web)."
CHAT_SESSION = "Continuar una conversación con este nombre (por omisión, una nueva)."

API = "API web: servidor, usuarios y utilidades."
API_SERVE = "Sirve la API con uvicorn (cada proceso carga el motor al arrancar)."
API_SERVE_HOST = "Interfaz donde escuchar."
API_SERVE_PORT = "Puerto."
API_SERVE_WORKERS = "Procesos de uvicorn."
API_SERVE_MIGRATE = "Aplicar las migraciones de Alembic antes de arrancar."
API_CREATE_USER = "Crea un usuario; la contraseña llega por stdin, ASESOR_NEW_USER_PASSWORD o se pregunta."
API_CREATE_USER_USERNAME = "Nombre de usuario (minúsculas), p. ej. admin."
API_CREATE_USER_ROLE = "advisor, analyst o admin."
API_CREATE_USER_DISPLAY_NAME = "Nombre visible."
API_CREATE_USER_PASSWORD_STDIN = "Leer la contraseña de stdin (una línea)."
API_SET_PASSWORD = (
    "Cambia la contraseña de un usuario (stdin, ASESOR_NEW_USER_PASSWORD o se pregunta); revoca sus tokens anteriores."
)
API_SET_PASSWORD_USERNAME = "Usuario cuya contraseña se cambia."
API_SET_PASSWORD_STDIN = "Leer la contraseña nueva de stdin (una línea)."
API_OPENAPI = "Imprime el esquema OpenAPI (JSON)."
API_HANDOFF_URL = "Imprime un enlace de traspaso firmado para una evaluación guardada (soporte y pruebas)."
API_HANDOFF_URL_APPLICANT = "Clave seudónima del solicitante (applicant_key)."
API_HANDOFF_URL_ASSESSMENT = "Id de la evaluación guardada."

DB = "Base de datos: migraciones del esquema (Alembic)."
DB_UPGRADE = "Crea el esquema o lo migra hasta REVISION."
DB_UPGRADE_REVISION = "Revisión de Alembic."
DB_DOWNGRADE = "Migra el esquema hacia atrás hasta REVISION."
DB_DOWNGRADE_REVISION = "Revisión de Alembic (p. ej. base)."
DB_CURRENT = "Imprime la revisión del esquema de la base de datos."

ETL = "ETL de clientes históricos (loan_outcomes) con reporte de calidad."
ETL_LOAD = (
    "Valida, quita duplicados y carga FILE; imprime el reporte de calidad (JSON en stdout). Sale con 0 si el "
    "archivo se procesó (aun con filas rechazadas: están en el reporte) y con 2 si no se pudo cargar."
)
ETL_LOAD_FILE = "Archivo CSV a cargar."
ETL_LOAD_SOURCE = "scoring_bancario | german | taiwan | asesor | MAPEO.toml"
ETL_LOAD_BATCH_SIZE = "Filas por lote de escritura."
ETL_LOAD_REJECTS = "Escribir además cada línea rechazada (líneas JSON)."
ETL_LOAD_REPORT = "Escribir además el reporte de calidad en este archivo."
ETL_LOAD_MIGRATE = "Poner el esquema al día antes de cargar."
ETL_SOURCES = "Lista los mapeos de fuentes incluidos."

POLICY = "Política de crédito: validar y consultar el archivo versionado."
POLICY_CHECK = "Valida un archivo de política; los errores nombran la clave y el problema."
POLICY_PATH = "Imprime la ruta de la política incluida (para copiarla y editarla)."
POLICY_SIMULATE = (
    "Simula la política sobre todas las respuestas × la cuadrícula de créditos (sale con 1 si falla un invariante)."
)
POLICY_SIMULATE_JSON = "El reporte completo como JSON en stdout."
POLICY_REPLAY = "Re-evalúa las evaluaciones guardadas con otra política, sin tocarlas, y compara lado a lado."
POLICY_REPLAY_POLICY = "Archivo de política con el que re-evaluar las evaluaciones guardadas."
POLICY_REPLAY_SINCE = "Primer día (AAAA-MM-DD, UTC), incluido."
POLICY_REPLAY_UNTIL = "Último día (AAAA-MM-DD, UTC), incluido."
POLICY_REPLAY_JSON = "Escribir el reporte como JSON en stdout."
POLICY_REPLAY_CSV = "Escribir aquí los veredictos que cambian (CSV)."
POLICY_REPLAY_HTML = "Escribir aquí el reporte HTML."
POLICY_REPLAY_SCHEDULER = "Planificador de Dask tcp://HOST:PUERTO (por omisión: todos los núcleos locales)."
POLICY_REPLAY_WORKERS = "Procesos locales (por omisión: todos los núcleos)."

TRAIN = "Entrenamiento de modelos de PD y reportes para analistas."
TRAIN_MODEL_DIR = "Directorio de artefactos (por omisión: ASESOR_MODEL_DIR o var/models)."
TRAIN_APPLICANT = (
    "Entrena el modelo de PD del solicitante (German Credit), lo recalibra y escribe el artefacto versionado."
)
TRAIN_APPLICANT_DATA = "CSV de German Credit (por omisión: la copia incluida en engine/pd/data)."
TRAIN_APPLICANT_FROM_DB = "Entrenar con los resultados del banco en loan_outcomes (cargados con asesor etl)."
TRAIN_APPLICANT_SOURCE = "Fuente de loan_outcomes con la que entrenar (con --from-db)."
TRAIN_APPLICANT_URL = "URL de la base de datos para --from-db (por omisión: DATABASE_URL o SQLite en var/)."
TRAIN_CARD = "Ficha del modelo del solicitante: CV repetida, calibración, supuesto de cartera y candidatos (MD + JSON)."
TRAIN_CARD_REPEATS = "Repeticiones de la validación cruzada estratificada."
TRAIN_CARD_FOLDS = "Particiones por repetición."
TRAIN_CARD_CANDIDATES = "Lista separada por comas de served, logit, resampled, scorecard, gbm."
TRAIN_CARD_RATES = "Tasas de incumplimiento de la cartera cuyo efecto muestra la ficha (lista separada por comas)."
TRAIN_DATASET = "Definición de datos incluida: scoring_bancario, german o taiwan."
TRAIN_DATASET_FILE = "Definición de datos en TOML (archivo, objetivo, columnas)."
TRAIN_NAME = "Nombre del modelo en el registro, p. ej. seed001-scoring_bancario."
TRAIN_COHORT = "CSV de la cohorte (por omisión: la parte de validación de los datos)."
TRAIN_REPORT = "Reproduce el estudio de la semilla 001: informe HTML autocontenido + resumen Markdown + artefacto."
TRAIN_REPORT_DATA = "CSV de datos en lugar del archivo de la definición."
TRAIN_REPORT_OUT = "Carpeta de salida (por omisión: var/reports/...)."
TRAIN_REPORT_SEED = "Semilla de la partición y del remuestreo."
TRAIN_REPORT_VALID_SHARE = "Proporción reservada para validación."
TRAIN_REPORT_STRATEGIES = "Lista separada por comas."
TRAIN_REPORT_SAVE_MODEL = "Guardar el modelo elegido."
TRAIN_COMPARE = (
    "Campeón contra retador en la misma cohorte: AUC, KS, PSI y tasa de aprobación en los cortes de la política."
)
TRAIN_COMPARE_CHALLENGER = "Versión del retador."
TRAIN_COMPARE_WHOLE = "Todas las filas de los datos, no solo las de validación."
TRAIN_PROMOTE = "Pone en servicio una versión (queda registrada con fecha, versión anterior y motivo)."
TRAIN_PROMOTE_VERSION = "Versión que se pone en servicio."
TRAIN_PROMOTE_REASON = "Motivo (se guarda en promotions.jsonl); obligatorio."
TRAIN_PROMOTE_BY = "Quién la pone en servicio (por omisión: el usuario del sistema)."
TRAIN_PSI = "PSI por variable y del puntaje de una cohorte frente a la población de entrenamiento (bandas 0.1 / 0.25)."
TRAIN_PSI_FROM_DB = "Solicitantes evaluados en un periodo."
TRAIN_PSI_SINCE = "Inicio del periodo (UTC, incluido)."
TRAIN_PSI_UNTIL = "Fin del periodo (UTC, excluido)."
TRAIN_PSI_URL = "URL de la base de datos para --from-db."
TRAIN_PSI_FAIL_ON = "Salir con 1 si una variable está en esta banda o más arriba (para tareas programadas)."
TRAIN_SCORE = "PD, puntaje y códigos de razón por solicitante (JSON por línea) con un modelo de la semilla 001."
TRAIN_SCORE_COHORT = "CSV de solicitantes (las columnas de variables del modelo)."
TRAIN_SCORE_TOP = "Códigos de razón por solicitante."

# ---------------------------------------------------------------------------------- CLI errors (click's own)
USAGE_NO_SUCH_OPTION = "No existe la opción {name}."
USAGE_NO_SUCH_OPTION_SUGGEST = "No existe la opción {name}. ¿Quisiste decir {suggestion}?"
USAGE_NO_SUCH_COMMAND = "No existe el comando {name}."
USAGE_MISSING_COMMAND = "Falta el comando."
USAGE_MISSING = "Falta {param}."
USAGE_BAD_VALUE = "Valor inválido para {param}: {reason}"
USAGE_OPTION_NEEDS_VALUE = "La opción {name} necesita un valor."
USAGE_EXTRA_ARGUMENT = "Sobra el argumento {args}."
USAGE_GENERIC = "Uso incorrecto: {reason}"
USAGE_NOT_ONE_OF = "{value} no es un valor admitido; usa uno de {choices}."
ROOT_LOG_LEVEL_CHOICES = "usa uno de {choices}"

# ------------------------------------------------------------------------ CLI errors (the analysts' commands')
ERR_NO_SUCH_FILE = "No existe el archivo {path}."
ERR_CANNOT_READ = "No se pudo leer {path}: {reason}"
ERR_EXCLUSIVE = "{first} y {second} se excluyen: usa solo una."
ERR_UNKNOWN_NAMES = "{what} desconocidas: {unknown}; las conocidas son: {known}."
ERR_STRATEGIES = "Estrategias"
ERR_CANDIDATES = "Opciones de modelo"
ERR_VALID_SHARE = "--valid-share debe estar entre 0 y 1 (sin incluirlos)."
ERR_RATES_NOT_NUMBERS = "--rates debe ser una lista de números separados por comas, no {rates!r}."
ERR_RATES_RANGE = "Cada tasa de --rates debe estar entre 0 y 1 (sin incluirlos)."
ERR_COHORT_MISMATCH = "La cohorte no corresponde al modelo: {reason}"
ERR_COHORT_MISMATCH_MODELS = "La cohorte no corresponde a los modelos: {reason}"
ERR_FROM_DB_APPLICANT_ONLY = (
    "--from-db monitorea el modelo de solicitantes (--name applicant): el diálogo no recoge las variables de un "
    "modelo de la semilla 001."
)
ERR_NO_REFERENCE = "{version} no guarda su población de entrenamiento: reentrénalo con `asesor train applicant`."
ERR_EMPTY_COHORT = "No hay evaluaciones de este modelo con sus variables registradas en ese periodo."
ERR_REASON_CODES_SEED001 = (
    "Los códigos de razón salen de la tarjeta de puntuación de un modelo de la semilla 001; para solicitantes usa "
    "`asesor assess`."
)
ERR_OUTCOMES_UNREADABLE = (
    "No se pudo leer loan_outcomes ({reason}); ejecuta `asesor db upgrade` y carga los resultados con "
    "`asesor etl load`."
)
ERR_NO_OUTCOMES = "No hay filas de loan_outcomes de la fuente {source!r}: cárgalas antes con `asesor etl load`."
ERR_ASSESSMENTS_UNREADABLE = "No se pudieron leer las evaluaciones ({reason}); ejecuta `asesor db upgrade`."
ERR_DATE = "{option} debe ser una fecha AAAA-MM-DD."
ERR_SINCE_AFTER_UNTIL = "--since no puede ser posterior a --until."
ERR_SCHEDULER_URL = "--scheduler debe tener la forma tcp://HOST:PUERTO."
ERR_SCHEDULER_UNREACHABLE = "No se pudo contactar el planificador de Dask {scheduler}: {reason}"

# the operating system's reasons a file could not be read, by errno (strerror is English)
OS_REASONS: dict[int, str] = {
    1: "no hay permiso para leerlo",
    2: "no existe",
    13: "no hay permiso para leerlo",
    20: "una parte de la ruta no es un directorio",
    21: "es un directorio",
    36: "el nombre es demasiado largo",
    40: "demasiados enlaces simbólicos",
}
OS_REASON_OTHER = "error del sistema (errno {errno})"
NONE_LISTED = "ninguno"


def os_reason(errno: object) -> str:
    """Why the operating system refused a file, in Spanish (`errno` of an OSError)."""
    return OS_REASONS.get(errno, OS_REASON_OTHER.format(errno=errno)) if isinstance(errno, int) else "error del sistema"


class _Values(dict):
    """A template's values: lists as "a, b" ("ninguno" when empty), a missing value as "?" (never a KeyError)."""

    def __init__(self, ctx: dict[str, Any]) -> None:
        super().__init__({k: _listed(v) for k, v in ctx.items()})

    def __missing__(self, key: str) -> str:
        return "?"


def _listed(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else NONE_LISTED
    return value


def _fill(template: str, ctx: dict[str, Any]) -> str:
    try:
        return template.format_map(_Values(ctx))
    except (ValueError, TypeError, IndexError):  # a value of an unexpected kind for its format spec
        return template.format_map(_Values({k: str(v) for k, v in ctx.items()}))


def read_reason(exc: BaseException) -> str:
    """Why a file could not be read (ERR_CANNOT_READ's reason): the OS's, or that pandas found no CSV in it."""
    return os_reason(exc.errno) if isinstance(exc, OSError) else NOT_A_CSV


NOT_A_CSV = "no es un CSV legible"

# --------------------------------------------------- dataset definitions of `asesor train` (engine.training)
DATASET_ERRORS: dict[str, str] = {
    "definition_lacks": "A la definición de datos le faltan {missing}.",
    "definition_unknown_keys": "La definición de datos tiene claves desconocidas: {unknown}.",
    "name_or_file": "Indica un conjunto de datos (--dataset) o un archivo de definición (--dataset-file), uno solo.",
    "unknown_dataset": "Conjunto de datos desconocido {name!r}; los incluidos son: {known}.",
    "definition_unreadable": "No se pudo leer la definición de datos {path}: {reason}.",
    "data_not_found": "No se encontró el archivo de datos de {dataset!r} (se buscó en {tried}; define {variable}).",
    "columns_absent": "{dataset}: faltan en los datos las columnas {columns}.",
    "positive_absent": "{dataset}: la clase positiva {positive!r} no está entre los valores del objetivo ({values}).",
    "target_missing": "{dataset}: al objetivo le faltan valores.",
    "not_numeric": "{dataset}: la columna {column!r} no es numérica; ponla en `categorical`.",
    "missing_values": "{dataset}: faltan valores en {columns} (imputarlos antes de entrenar).",
    "data_unreadable": "No se pudo leer {path}: {reason}.",
}
DATASET_ERROR_OTHER = "La definición o el archivo de datos no se puede usar ({code})."


def dataset_message(code: str, ctx: dict[str, Any]) -> str:
    """The Spanish message of an engine.training.datasets.DatasetError (`code`, `ctx`)."""
    values = dict(ctx)
    cause = values.get("cause")
    if cause == "os":
        values["reason"] = os_reason(values.get("errno"))
    elif cause == "toml":
        where = (
            POLICY_NOT_TOML_WHERE.format(line=values["line"], column=values.get("column", "?"))
            if "line" in values
            else POLICY_NOT_TOML_SOMEWHERE
        )
        values["reason"] = f"no es TOML válido ({where})"
    elif cause == "csv":
        values["reason"] = NOT_A_CSV
    template = DATASET_ERRORS.get(code)
    return _fill(template, values) if template else DATASET_ERROR_OTHER.format(code=code)


# ------------------------------------------------------------------ policy files (engine.policy.PolicyError)
POLICY_UNREADABLE = "No se pudo leer el archivo de política {path}: {reason}."
POLICY_NOT_TOML = "El archivo de política {path} no es TOML válido ({where})."
POLICY_NOT_TOML_WHERE = "línea {line}, columna {column}"
POLICY_NOT_TOML_END = "al final del archivo"
POLICY_NOT_TOML_SOMEWHERE = "revisa su sintaxis"
POLICY_NOT_UTF8 = "El archivo de política {path} no es UTF-8 válido (byte {start})."
POLICY_INVALID = "El archivo de política {path} no es válido. {problems}"
POLICY_PROBLEM = "{key}: {message}"
POLICY_EXPECTED = "{message} Se espera {expected}."
# one template per cross-check of engine/policy/models.py (PolicyCheck kind), with its values
POLICY_CHECKS: dict[str, str] = {
    "bands_order": "Las bandas van de la 'min' más alta a la más baja, sin repetir.",
    "bands_last_zero": "La última banda debe empezar en 0, para que todo total tenga banda.",
    "stability_range": "{code}: la estabilidad debe estar entre 0 y 10 (es {value}).",
    "income_range": "income_band_range.{code}: [{low}, {high}] debe contener income_by_band.{code} = {value}.",
    "fraction_range": "{code}: una fracción debe estar en [0, 1) (es {value}).",
    "price_order": "vehicle_price_min debe ser menor que vehicle_price_max.",
    "term_order": "term_months_min no puede pasar de term_months_max.",
    "age_order": "age_min debe ser menor que age_max.",
    "term_options_outside": "Los plazos {terms} de term_options quedan fuera de term_months_min..term_months_max.",
    "min_below_max": "min debe ser menor que max.",
    "step_divides": "El paso {step} no divide max − min = {span}.",
    "break_points_order": "terms.{term}: los puntos de quiebre deben ir de menor a mayor (son {points}).",
    "hedge_unknown_term": "hedged.{hedge}: '{of}' no es un término de esta variable.",
    "hedge_is_term": "hedged.{hedge}: el nombre ya es un término simple.",
    "variables_missing": "Faltan las variables {missing}.",
    "rule_ids_repeated": "Hay ids de regla repetidos: {ids}.",
    "rule_output_unknown": "rules[{index}] ({rule}): el término de salida '{term}' no está definido.",
    "rule_syntax": "rules[{index}] ({rule}): {detail}",
    "rate_order": "rate_min no puede pasar de rate_max.",
    "expert_age_order": "min_age debe ser menor que max_age.",
    "credit_count_range": "{code}: German Credit cuenta los créditos vigentes de 1 a 4 (es {value}).",
    "thresholds_increasing": "Los umbrales deben ser positivos y estrictamente crecientes (son {values}).",
    "resampler_renamed": '"random_over" ahora se llama "over" (el mismo nombre que en asesor train report).',
    "resampled_needs_recalibration": (
        'Un ajuste remuestreado debe recalibrarse (recalibration = "platt"): su PD está inflada.'
    ),
    "loss_inputs_moved": "{keys}: ahora van en [products.{product}] (con un `source`).",
    "labels_order": "Las etiquetas van de la 'min' más alta a la más baja, sin repetir.",
    "labels_last_zero": "La última etiqueta debe empezar en 0, para que toda estabilidad tenga etiqueta.",
    "dimensions_distinct": "Indica una o más dimensiones, cada una una sola vez.",
    "product_required": "Falta [products.{product}]: el motor evalúa créditos {product}.",
    "better_rows_question": "lab.better_rows.{question}: no es una pregunta.",
    "better_rows_order": (
        "lab.better_rows.{question}: debe listar cada código de answers.{question} una vez, el mejor primero."
    ),
    "no_term_offered": "limits.term_options: ningún plazo es menor o igual que expert.reject_term_above = {limit}.",
    "codes_mismatch": "{where}: los códigos deben ser los de answers.{question}; faltan {missing}; sobran {unknown}.",
    "strategy_unknown_bank": "{where}.bank: banco desconocido {bank!r}; usa uno de {known}.",
    "strategy_bank_not_promote": "{where}.bank: solo una regla 'promote' nombra un banco.",
    "strategy_unknown_codes": "{where}: códigos desconocidos {codes}; usa algunos de {known}.",
    "questions_order": "{where}: las preguntas deben ser exactamente {questions}, en ese orden.",
    "bank_fit_codes": "bank_fit.table.{question}: los códigos {codes} no son los de answers.{question} ({expected}).",
    "bank_fit_cells": "bank_fit.table.{question}.{code}: {cells} celdas para {banks} bancos.",
    "bank_fit_negative": "bank_fit.table.{question}.{code}: los puntos no pueden ser negativos.",
}
# a fuzzy rule that does not parse (engine.fuzzy.rules.RuleSyntaxError kind)
RULE_SYNTAX: dict[str, str] = {
    "unexpected_character": "carácter inesperado {found!r} en la posición {position}.",
    "expected": "la condición no se entiende a partir de la posición {position}.",
    "unknown_variable": "variable desconocida '{variable}' en la posición {position} (conocidas: {known}).",
    "unknown_term": "'{term}' en la posición {position} no es un término de '{variable}' (términos: {known}).",
}
RULE_SYNTAX_OTHER = "la condición no se entiende."


def policy_problem(issue: dict[str, Any]) -> str:
    """The Spanish message of one issue of engine.policy.PolicyError (a cross-check or a pydantic error)."""
    kind, ctx = str(issue.get("type", "")), dict(issue.get("ctx") or {})
    if kind == "rule_syntax":
        ctx["detail"] = _fill(RULE_SYNTAX.get(str(ctx.get("syntax")), RULE_SYNTAX_OTHER), ctx)
    if kind in POLICY_CHECKS:
        return _fill(POLICY_CHECKS[kind], ctx)
    return _pydantic_message(kind, ctx)


def _pydantic_message(kind: str, ctx: dict[str, Any]) -> str:
    """field_message, with the values a choice admits (pydantic's "'a', 'b' or 'c'")."""
    message = field_message(kind, None, ctx)
    if kind in ("literal_error", "enum") and ctx.get("expected"):
        expected = str(ctx["expected"]).replace(" or ", " o ")
        return POLICY_EXPECTED.format(message=message, expected=expected)
    return message


def policy_problems(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `problems` of the CLI's invalid_policy error: each key with its Spanish message and type."""
    return [
        {"key": i.get("key") or "", "message": policy_problem(i), "type": i.get("type")}
        for i in issues
        if i.get("type") not in ("unreadable", "invalid_toml", "not_utf8")
    ]


def policy_message(code: str, path: object, issues: list[dict[str, Any]]) -> str:
    """The Spanish message of an engine.policy.PolicyError (`code`, `path`, `issues`)."""
    first = issues[0] if issues else {}
    ctx = first.get("ctx") or {}
    if code == "unreadable":
        return POLICY_UNREADABLE.format(path=path, reason=os_reason(ctx.get("errno")))
    if code == "invalid_toml" and first.get("type") == "not_utf8":
        return POLICY_NOT_UTF8.format(path=path, start=ctx.get("start", "?"))
    if code == "invalid_toml":
        if "line" in ctx:
            where = POLICY_NOT_TOML_WHERE.format(line=ctx["line"], column=ctx.get("column", "?"))
        else:
            where = POLICY_NOT_TOML_END if ctx.get("at_end") else POLICY_NOT_TOML_SOMEWHERE
        return POLICY_NOT_TOML.format(path=path, where=where)
    problems = " ".join(
        POLICY_PROBLEM.format(key=p["key"], message=p["message"]) if p["key"] else p["message"]
        for p in policy_problems(issues)
    )
    return POLICY_INVALID.format(path=path, problems=problems)


# -------------------------------------------------------------------- the model registry (engine.pd.registry)
REGISTRY_ERRORS: dict[str, str] = {
    "not_in_service": (
        "No hay ningún modelo {name!r} en servicio en {model_dir}: revisa --name, o entrena y promueve una versión."
    ),
    "unknown_version": "No existe la versión {version!r} de {name!r} en {model_dir} (hay: {known}).",
    "unreadable_artifact": "No se pudo leer el artefacto {file}: {reason}.",
    "not_an_artifact": "{file} no es un artefacto de modelo.",
}
REGISTRY_ERROR_OTHER = "El registro de modelos rechazó la operación ({code})."
ARTIFACT_NOT_JSON = "no es JSON válido (línea {line}, columna {column})"
ARTIFACT_NOT_UTF8 = "no es UTF-8 válido"
# why the model `current` names cannot serve (engine.pd.registry.ModelUnavailable kind)
MODEL_REASONS: dict[str, str] = {
    "wrong_format": "no es un artefacto del modelo de PD del solicitante (formato {format})",
    "wrong_name": "el artefacto es del modelo {artifact!r} y la política sirve {served!r}",
    "incompatible": (
        "no es compatible con el mapeo de variables de este código o con la política en servicio ({error})"
    ),
    "unreadable": "falta su artefacto o no se puede leer: {detail}",
    "version_mismatch": "su model.json guarda la versión {holds!r}",
    "none_in_service": "no hay ninguna versión en servicio (falta `current`)",
    "not_loaded": "aún no se ha cargado",
}
MODEL_REASON_OTHER = "no puede servir"
MODEL_UNAVAILABLE = (
    "El modelo en servicio {what} no puede usarse ({reason}); no se reemplaza solo: promueve una versión válida "
    "con `asesor train promote <versión> --name {name} --reason …`."
)
MODEL_CANNOT_SERVE = "La versión {version} de {name} no puede servir con esta política: {reason}."


def registry_message(code: str, ctx: dict[str, Any]) -> str:
    """The Spanish message of an engine.pd.registry.RegistryError (`code`, `ctx`)."""
    values = dict(ctx)
    if code == "unreadable_artifact":
        if values.get("cause") == "json":
            values["reason"] = ARTIFACT_NOT_JSON.format(line=values.get("line"), column=values.get("column"))
        elif values.get("cause") == "utf8":
            values["reason"] = ARTIFACT_NOT_UTF8
        else:
            values["reason"] = os_reason(values.get("errno"))
    template = REGISTRY_ERRORS.get(code)
    return _fill(template, values) if template else REGISTRY_ERROR_OTHER.format(code=code)


def model_reason(kind: str, ctx: dict[str, Any]) -> str:
    """Why a model cannot serve, in Spanish (engine.pd.registry.ModelUnavailable `kind` and `ctx`)."""
    values = dict(ctx)
    if kind == "unreadable":
        detail = registry_message(str(values.get("code", "")), values).rstrip(".")
        values["detail"] = detail[:1].lower() + detail[1:]  # mid-sentence
    template = MODEL_REASONS.get(kind)
    return _fill(template, values) if template else MODEL_REASON_OTHER


# --------------------------------------------------------------------------- `asesor etl load` (storage.etl)
ETL_ERRORS: dict[str, str] = {
    "unknown_source": "Fuente desconocida {source!r}: usa una de {known} o la ruta de un archivo MAPEO.toml.",
    "invalid_mapping": "El mapeo {path} no es válido: {detail}",
    "file_not_found": "No existe el archivo {file}.",
    "unreadable": "No se pudo leer el archivo {file}: {reason}.",
    "file_empty": "El archivo {file} está vacío (no tiene encabezado).",
    "not_text": "El archivo {file} no es texto {encoding}.",
    "malformed_csv": "El CSV {file} está mal formado en la línea {line}.",
    "columns_mismatch": (
        "Las columnas del archivo {file} no corresponden a la fuente {source!r}: faltan {missing_columns}; "
        "sobran {unexpected_columns}."
    ),
}
ETL_REPEATED_COLUMNS = " Columnas repetidas: {repeated_columns}."
ETL_ERROR_OTHER = "No se pudo cargar el archivo ({code})."
ETL_MAPPING_NOT_TOML = "no es TOML válido ({where})."
# the checks of a mapping file (storage.etl MappingCheck kind)
ETL_MAPPING_CHECKS: dict[str, str] = {
    "category_values": "una columna de categorías necesita `values`.",
    "bins_labels": "`bins` y `labels` van juntos.",
    "labels_count": "`labels` debe tener un elemento más que `bins`.",
    "column_undeclared": "la columna {column!r} se usa pero no está declarada en [columns].",
    "unknown_normalized": "columnas normalizadas desconocidas {unknown}; se admiten {allowed}.",
}


def etl_message(code: str, details: dict[str, Any]) -> str:
    """The Spanish message of a storage.etl.EtlError (`code` and its details)."""
    values = dict(details)
    if code == "unreadable":
        values["reason"] = os_reason(values.get("errno"))
    if code == "invalid_mapping":
        values["detail"] = " ".join(etl_mapping_problem(i) for i in values.get("issues") or []) or "?"
    template = ETL_ERRORS.get(code)
    if template is None:
        return ETL_ERROR_OTHER.format(code=code)
    message = _fill(template, values)
    if code == "columns_mismatch" and values.get("repeated_columns"):
        message += _fill(ETL_REPEATED_COLUMNS, values)
    return message


def etl_mapping_problem(issue: dict[str, Any]) -> str:
    kind, ctx, key = str(issue.get("type", "")), issue.get("ctx") or {}, issue.get("key") or ""
    if kind == "invalid_toml":
        where = (
            POLICY_NOT_TOML_WHERE.format(line=ctx["line"], column=ctx.get("column", "?"))
            if "line" in ctx
            else POLICY_NOT_TOML_END
            if ctx.get("at_end")
            else POLICY_NOT_TOML_SOMEWHERE
        )
        message = ETL_MAPPING_NOT_TOML.format(where=where)
    elif kind in ETL_MAPPING_CHECKS:
        message = _fill(ETL_MAPPING_CHECKS[kind], ctx)
    else:
        message = _pydantic_message(kind, ctx)
    return POLICY_PROBLEM.format(key=key, message=message) if key else message


# --------------------------------------------------------------------------------------- API problem details
PROBLEM_TITLES: dict[int, str] = {
    400: "Solicitud incorrecta",
    401: "Autenticación requerida",
    403: "Acceso denegado",
    404: "No encontrado",
    405: "Método no permitido",
    409: "Conflicto",
    410: "Ya no está disponible",
    413: "Solicitud demasiado grande",
    415: "Tipo de contenido no admitido",
    422: "Datos inválidos",
    429: "Demasiadas solicitudes",
    500: "Error interno",
    503: "Servicio no disponible",
}

# pydantic's error type -> the message a field error carries (the API's problem details, `asesor assess`)
FIELD_MESSAGES: dict[str, str] = {
    "missing": "Este campo es obligatorio.",
    "extra_forbidden": "Este campo no se admite.",
    "json_invalid": "El cuerpo no es JSON válido.",
    "text_unicode": "El texto contiene caracteres Unicode inválidos (sustitutos sueltos).",
    "model_attributes_type": "Se esperaba un objeto JSON.",
    "model_type": "Se esperaba un objeto JSON.",
    "dict_type": "Se esperaba un objeto JSON.",
    "int_parsing": "Se esperaba un número entero.",
    "int_type": "Se esperaba un número entero.",
    "int_from_float": "Se esperaba un número entero.",
    "float_parsing": "Se esperaba un número.",
    "float_type": "Se esperaba un número.",
    "finite_number": "Se esperaba un número finito.",
    "bool_parsing": "Se esperaba verdadero o falso.",
    "bool_type": "Se esperaba verdadero o falso.",
    "string_type": "Se esperaba texto.",
    "greater_than": "El valor es demasiado pequeño.",
    "greater_than_equal": "El valor es demasiado pequeño.",
    "less_than": "El valor es demasiado grande.",
    "less_than_equal": "El valor es demasiado grande.",
    "string_too_long": "El texto es demasiado largo.",
    "string_too_short": "El texto es demasiado corto.",
    "string_pattern_mismatch": "El texto no tiene el formato esperado.",
    "literal_error": "Valor no permitido.",
    "enum": "Valor no permitido.",
    "list_type": "Se esperaba una lista.",
    "tuple_type": "Se esperaba una lista.",
    "too_short": "Tiene menos elementos de los necesarios.",
    "too_long": "Tiene más elementos de los permitidos.",
}
FIELD_INVALID = "Valor inválido."
# a JSON body the json module could not read for a reason other than its syntax (FastAPI answered 400 in English)
BODY_NOT_UTF8 = "El cuerpo no es UTF-8 válido (byte {start})."
BODY_TOO_DEEP = "El JSON anida demasiados niveles."
BODY_NUMBER_TOO_LONG = "Un número del JSON tiene demasiados dígitos."
BODY_UNREADABLE = "No se pudo leer el cuerpo de la solicitud."
LIMIT_SUFFIX = "{message} (límite: {limit})"

UNAVAILABLE: dict[str, str] = {
    "database": "La base de datos no está disponible en este momento; inténtalo de nuevo en unos segundos.",
    "redis": "Redis no está disponible en este momento; inténtalo de nuevo en unos segundos.",
}


_BOUNDS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def field_message(kind: str, fallback: str | None = None, ctx: dict[str, object] | None = None) -> str:
    """The Spanish message of a pydantic error type (`fallback`: its own message, for types without one here);
    a bound's limit (pydantic's error `ctx`) is appended."""
    message = FIELD_MESSAGES.get(kind) or fallback or FIELD_INVALID
    limit = next(iter((ctx or {}).values()), None) if kind in _BOUNDS else None
    return LIMIT_SUFFIX.format(message=message, limit=limit) if limit is not None else message


# ------------------------------------------------------------------- assessment input (API and `asesor assess`)
# the engine's policy checks by type (engine.validation), with their `ctx` values
INPUT_MESSAGES: dict[str, str] = {
    "unknown_code": "Código desconocido {value!r}; se espera uno de {allowed}.",
    "price_range": "Debe estar entre {min:,.0f} y {max:,.0f} MXN.",
    "term_range": "Debe estar entre {min} y {max} meses.",
    "age_range": "Da una edad de {age} años en {year}; se aceptan edades de {min} a {max}.",
    "income_max": "No debe pasar de {max:,.0f} MXN.",
}
INPUT_FIELDS = "Revisa estos campos: {fields}."


def input_message(error: dict[str, Any]) -> str:
    """The Spanish message of one error of engine.validation.AssessmentInputError."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    if kind in INPUT_MESSAGES:
        return INPUT_MESSAGES[kind].format(**ctx)
    return field_message(kind, str(error.get("message") or "") or None, ctx)


# ---------------------------------------------------------------------------------------- `asesor assess`
ASSESS_NUMBER_TOO_LONG = "Un número tiene más de {limit} caracteres."
ASSESS_NUMBER_TOO_LARGE = "El número {text} está fuera de rango."
ASSESS_NUMBER_NOT_FINITE = "{name} no es un número que JSON admita."
ASSESS_TOO_DEEP = "El JSON anida más de {limit} niveles."
ASSESS_NOT_UTF8 = "No es UTF-8 válido (byte {start})."
ASSESS_NOT_JSON = "No es JSON válido: {reason}"
ASSESS_INTERNAL = "Error interno ({name}); los demás elementos siguen."
ASSESS_BAD_AS_OF = "--as-of debe ser una fecha AAAA-MM-DD."
ASSESS_WHERE_COLUMN = "columna {col}"
ASSESS_WHERE_LINE = "línea {line}, columna {col}"
# the json module's reasons, by their English opening words
JSON_REASONS: dict[str, str] = {
    "Expecting value": "se esperaba un valor",
    "Expecting property name enclosed in double quotes": "se esperaba un nombre de propiedad entre comillas dobles",
    "Expecting ',' delimiter": "se esperaba ','",
    "Expecting ':' delimiter": "se esperaba ':'",
    "Extra data": "sobran datos después del JSON",
    "Unterminated string starting at": "cadena sin cerrar",
    "Invalid control character at": "carácter de control inválido",
    "Invalid \\escape": "secuencia de escape inválida",
}


def json_reason(msg: str) -> str:
    return next((es for en, es in JSON_REASONS.items() if msg.startswith(en)), msg)
