"""Spanish (Mexico) copy of the dialog. Answer labels and bank names are NOT here: they live in the policy."""

from __future__ import annotations

# Bumped whenever the privacy notice's content changes; stored with each consent.
NOTICE_VERSION = "2026-11"

WELCOME = (
    "¡Hola! Soy <b>Asesor</b>, tu asistente para encontrar el banco con más probabilidades de aprobar "
    "tu crédito automotriz. Te haré unas preguntas breves (unos dos minutos).\n\n"
    "<b>Aviso de privacidad (resumen).</b> Para darte una recomendación necesitamos tu nombre, tu año de "
    "nacimiento, opcionalmente tu teléfono y tus respuestas sobre empleo, ingresos y créditos. Los usamos "
    "solo para evaluar tu perfil y, si lo pides, para que un asesor te contacte. No los compartimos con "
    "ningún banco sin tu solicitud. Puedes borrarlos cuando quieras con /borrar_mis_datos.\n\n"
    "¿Aceptas el aviso de privacidad?"
)

PRIVACY = (
    "<b>Aviso de privacidad</b> (Ley Federal de Protección de Datos Personales en Posesión de los "
    "Particulares)\n\n"
    "• <b>Qué datos:</b> nombre, año de nacimiento, teléfono (opcional), y tus respuestas sobre empleo, "
    "banco de nómina, historial y créditos, enganche, ingresos y el auto que quieres.\n"
    "• <b>Para qué:</b> calcular qué banco tiene más probabilidades de aprobar tu crédito, estimar tu "
    "riesgo y, si lo pides, que un asesor humano te atienda.\n"
    "• <b>Con quién:</b> con nadie fuera de nuestro equipo de asesores, salvo que tú envíes una solicitud "
    "de financiamiento.\n"
    "• <b>Tus derechos (ARCO):</b> puedes ver y corregir tus respuestas en el resumen, cancelar con "
    "/cancelar y borrar tus datos en cualquier momento con /borrar_mis_datos.\n"
    "• Sin tu consentimiento no guardamos ningún dato.\n\n"
    "La recomendación se basa en probabilidades: no es una oferta ni un compromiso de ningún banco."
)

HELP = (
    "<b>¿Cómo funciona?</b> Respondes unas preguntas con los botones, revisas el resumen y te muestro el "
    "banco recomendado.\n\n"
    "Comandos:\n"
    "/start — empezar o continuar\n"
    "/reiniciar — volver a empezar las preguntas\n"
    "/cancelar — terminar la conversación\n"
    "/privacidad — ver el aviso de privacidad\n"
    "/borrar_mis_datos — borrar tus datos personales\n"
    "/ayuda — ver esta ayuda\n\n"
    "En cada paso puedes tocar «⬅️ Atrás» para corregir la respuesta anterior."
)

CONSENT_DECLINED = (
    "Entendido. Sin tu consentimiento no guardamos ningún dato tuyo y aquí termina la conversación. "
    "Si cambias de opinión, escribe /start."
)
CONSENT_GIVEN = "¡Gracias! Empecemos con unos datos básicos."

ASK_NAME = "¿Cómo te llamas? Escribe tu nombre."
ASK_BIRTH_YEAR = "¿En qué año naciste? Escríbelo con cuatro cifras, por ejemplo 1988."
ASK_PHONE = "Si quieres que un asesor pueda llamarte, escribe tu teléfono de 10 dígitos. Es opcional."
ASK_INCOME_EXACT = (
    "Si lo deseas, escribe tu ingreso mensual exacto en pesos (por ejemplo 23500). Nos ayuda a afinar el "
    "cálculo; si no, elige «Prefiero no decir»."
)
ASK_VEHICLE_PRICE = "¿Cuál es el precio del auto que quieres? Por ejemplo 350000, $350,000 o 350 mil."
ASK_TERM = "¿En cuántos meses te gustaría pagarlo?"
INCOME_CHECK = "Escribiste un ingreso de <b>{amount}</b> al mes, pero elegiste «{band}». ¿Cuál es el correcto?"
BTN_INCOME_AMOUNT = "Gano {amount} ({band})"
BTN_INCOME_BAND = "«{band}»: corregir el monto"

QUESTION_PROMPTS: dict[str, str] = {
    "trabajo_tiempo": "¿Cuánto tiempo llevas en tu empleo actual?",
    "banco_nomina": "¿En qué banco recibes tu nómina?",
    "historial_crediticio": "¿Cómo describirías tu historial crediticio?",
    "creditos_vigentes": "¿Cuántos créditos tienes vigentes actualmente?",
    "atrasos_12_meses": "¿Has tenido atrasos en tus pagos en los últimos 12 meses?",
    "enganche": "¿Cuánto enganche puedes dar?",
    "prioridad_financiamiento": "¿Qué es lo más importante para ti en el financiamiento?",
    "ingreso_mensual": "¿Cuáles son tus ingresos mensuales comprobables?",
}

# Short names for the summary and its edit buttons.
FIELD_NAMES: dict[str, str] = {
    "name": "Nombre",
    "birth_year": "Año de nacimiento",
    "phone": "Teléfono",
    "trabajo_tiempo": "Antigüedad en el empleo",
    "banco_nomina": "Banco de nómina",
    "historial_crediticio": "Historial crediticio",
    "creditos_vigentes": "Créditos vigentes",
    "atrasos_12_meses": "Atrasos (12 meses)",
    "enganche": "Enganche",
    "prioridad_financiamiento": "Prioridad",
    "ingreso_mensual": "Ingreso mensual",
    "income_exact": "Ingreso exacto",
    "vehicle_price": "Precio del auto",
    "term": "Plazo",
}

BTN_BACK = "⬅️ Atrás"
BTN_ACCEPT = "✅ Acepto"
BTN_DECLINE = "No acepto"
BTN_NOTICE = "📄 Ver aviso completo"
BTN_SKIP_PHONE = "Prefiero no darlo"
BTN_SKIP_INCOME = "Prefiero no decir"
BTN_CONFIRM = "✅ Ver mi resultado"
BTN_CONTINUE = "▶️ Continuar donde me quedé"
BTN_RESTART = "🔄 Empezar de nuevo"
BTN_FINANCING = "📝 Solicitar financiamiento"
BTN_ADVISOR = "🙋 Hablar con un asesor"
BTN_EDIT = "✏️ Editar respuestas"
BTN_OPEN_FORM = "Abrir solicitud"

SUMMARY_TITLE = "<b>Revisa tus respuestas</b>"
SUMMARY_FOOTER = "Toca un dato para cambiarlo, o «Ver mi resultado» si todo está bien."
NOT_GIVEN = "no indicado"

USE_BUTTONS = "Para esta pregunta, por favor elige una de las opciones con los botones. 👇"
ONLY_TEXT = "Solo puedo leer texto y botones; no puedo procesar fotos, stickers ni otros archivos. 👇"
UNKNOWN_COMMAND = "No conozco ese comando. Escribe /ayuda para ver lo que puedo hacer."
STALE_BUTTON = "Ese botón es de un mensaje anterior. Sigue con el paso más reciente 👇"
NO_CONVERSATION = "Esta conversación ya terminó o expiró. Escribe /start para comenzar."
RESUME_OFFER = (
    "Ya tienes una solicitud en curso; te quedaste en: <b>{where}</b>.\n"
    "¿Quieres continuar donde te quedaste o empezar de nuevo?"
)
RESTARTED = "Empecemos de nuevo con las preguntas. Tus datos básicos se conservan; puedes cambiarlos en el resumen."
CANCELLED = (
    "Listo, terminé la conversación. Lo que ya guardamos no se borra solo: si quieres borrarlo usa "
    "/borrar_mis_datos. Escribe /start cuando quieras volver."
)
# What /borrar_mis_datos does, exactly (storage.repositories.Storage.erase_applicant and the service's erase):
# deleted rows, and rows kept under a random tombstone key that nothing links back to the person.
DELETED = (
    "Borramos tus datos personales: tu nombre, teléfono, año de nacimiento e ingreso, tu consentimiento, el "
    "chat donde te escribimos, tu perfil bancario (la copia de tus respuestas ligada a ti), las notas de los "
    "asesores sobre tu caso, los datos de contacto de tus solicitudes y esta conversación.\n\n"
    "Conservamos de forma anónima, bajo una clave al azar que ya no se puede relacionar contigo, solo para "
    "estadísticas: tus evaluaciones (las respuestas a las 8 preguntas, el precio del auto, el plazo, el año de "
    "nacimiento y el ingreso declarado, con su resultado), los registros de uso del asistente, tus casos con "
    "asesores (sin notas) y tus solicitudes de financiamiento (banco y auto, sin datos de contacto).\n\n"
    "Si vuelves a escribir /start empezaremos desde cero."
)
STATE_REPAIRED = (
    "Actualizamos el asistente desde tu última visita. Conservamos tus respuestas válidas y seguimos "
    "desde el primer dato que falta."
)
RESULT_REFUSED = "No pude calcular tu resultado con estos datos; revisa tus respuestas, por favor."
ADVISOR_REQUESTED = (
    "Listo, un asesor revisará tu caso y te escribirá por aquí. Puedes escribirle en este chat: tus "
    "mensajes le llegarán directamente."
)
ADVISOR_ALREADY = "Tu caso ya está con un asesor; escribe aquí y tu mensaje le llegará."
AUTO_ESCALATED = (
    "Por tu resultado, un asesor revisará tu caso para buscar alternativas y te escribirá por aquí. "
    "Puedes escribirle en este chat."
)
RELAYED = "Tu mensaje se envió al asesor. ✉️"
HANDOFF_NEEDS_RESULT = "Primero necesito calcular tu resultado."
HANDOFF = "Aquí está tu enlace a la solicitud de financiamiento. Es personal y vence en unas horas; no lo compartas."
TEMPORARY_ERROR = (
    "Tuvimos un problema técnico momentáneo y no pude registrar tu último mensaje. "
    "Por favor inténtalo de nuevo en unos segundos."
)
START_HINT = "Escribe /start para comenzar."
CHAT_BAD_FORM = (
    "No pude leer ese mensaje. Recarga la página e inténtalo de nuevo; tus respuestas guardadas siguen aquí."
)
CHAT_UNAVAILABLE = (
    "El chat no está disponible en este momento. Inténtalo de nuevo en unos minutos; tus respuestas guardadas "
    "no se pierden."
)
ADVISOR_SAYS = "💬 <b>Tu asesor:</b> {text}"
ADVISOR_SENT_FILE = "💬 <b>Tu asesor</b> te envió un archivo que este chat no puede mostrar; pídele que te lo describa."
CASE_TAKEN = "👋 Un asesor tomó tu caso y te escribirá por aquí en breve. Puedes escribirle en este chat."
CASE_RESOLVED = (
    "✅ Tu asesor cerró la conversación. Si necesitas algo más, escribe /start y toca «Hablar con un asesor»."
)

# ------------------------------------------------------------------------------------ the advisors' chat
# Spanish for the advisors (operators): the case card, its buttons and the answers to their taps.
CASE_REASONS = {
    "low_score": "puntaje bajo",
    "no_eligible_bank": "ningún banco elegible",
    "decision_revisar": "dictamen «revisar»",
    "decision_rechazado": "dictamen «rechazado»",
    "decision_aprobado": "dictamen «aprobado»",
    "applicant_request": "el cliente pidió un asesor",
}
CASE_TITLE = "Caso #{case_id}"
CASE_HEADER = "🆘 <b>Caso #{case_id}</b> — {reasons}"
CASE_WHO = "👤 {name}{age} · 📞 {phone}"
CASE_AGE = " · {age} años"
CASE_NO_NAME = "sin nombre"
CASE_NO_PHONE = "sin teléfono"
CASE_LOAN = "🚗 {price} a {term} meses{income}"
CASE_INCOME = " · ingreso declarado {income}"
CASE_NO_RESULT = "Resultado: aún no calculado"
CASE_RESULT = "Resultado: <b>{bank}</b> (2ª {second}) · {band}{points}"
CASE_RESULT_NO_BANK = "Resultado: ningún banco elegible · el más cercano <b>{bank}</b>{points}"
CASE_DECISION = "Dictamen: {decision}{rate} · PD {pd:.1f} % · puntaje {score}"
CASE_OPEN = "Estado: <b>abierto</b> — toca «Tomar» para atenderlo"
CASE_CLAIMED = "Estado: <b>atendido por {advisor}</b>"
CASE_CLOSED = "Estado: <b>resuelto</b> por {advisor}{outcome}"
CASE_OUTCOME = " — {outcome}"
# how a case ended (storage.models.CASE_OUTCOMES), on the card's buttons, the page and the dashboard
OUTCOME_LABELS = {
    "contactado": "Contactado",
    "solicitud_enviada": "Solicitud enviada",
    "no_interesado": "No interesado",
    "sin_respuesta": "Sin respuesta",
}
CASE_AN_ADVISOR = "un asesor"
CASE_ERASED = "🗑️ Caso #{case_id}: el cliente borró sus datos; el caso se cerró."
CASE_APPLICANT_SAYS = "💬 <b>Cliente (caso #{case_id}):</b> {text}"
CASE_ADVISOR_SAID = "💬 <b>{advisor} al cliente (caso #{case_id}):</b> {text}"
CASE_APPLICANT_FILE = "📎 <b>Cliente (caso #{case_id}):</b> envió un archivo ({kind}) desde un canal que no lo reenvía."
BTN_TAKE = "🙋 Tomar"
BTN_RESOLVE = "✅ Resolver"
CASE_UNKNOWN_BUTTON = "Botón desconocido."
CASE_GONE = "Este caso ya no está disponible (resuelto o borrado)."
CASE_TAKEN_BY_OTHER = "Este caso ya lo tomó {advisor}."
CASE_YOURS = "Caso tomado: escribe en este hilo para hablar con el cliente."
CASE_YOURS_PAGE = "Caso tomado: ya puedes escribirle al cliente."
CASE_ALREADY_YOURS = "Este caso ya es tuyo."
CASE_ALREADY_RESOLVED = "Este caso ya está resuelto."
CASE_ONLY_TAKER_RESOLVES = "Solo quien tomó el caso puede resolverlo."
CASE_CHOOSE_OUTCOME = "¿Cómo terminó? Elige el resultado en la tarjeta del caso."
BTN_CASE_BACK = "↩️ Volver"
CASE_DONE = "Caso resuelto."
CASE_TAKE_FIRST = "Toca «Tomar» en la tarjeta del caso antes de escribirle al cliente."
CASE_TAKE_FIRST_PAGE = "Toma el caso antes de escribirle al cliente."
CASE_HELD_BY = "Este caso lo atiende {advisor}."
CASE_OTHER_PERSON = "otra persona"
CASE_NO_ADDRESS = "La conversación del cliente ya no está disponible: no podemos escribirle."
CASE_ANSWER_SENT = "Mensaje guardado; se está enviando al cliente."
CASE_NOTE = "📝 <b>Nota de {advisor} (caso #{case_id}):</b> {text}"
CASE_CLOSING_NOTE = "📝 <b>Nota de cierre de {advisor} (caso #{case_id}):</b> {text}"
CASE_NOTE_SAVED = "Nota guardada."
CASE_NOTE_USAGE = "Para guardar una nota del caso, escribe /nota seguido del texto en el hilo del caso."
CASE_REASSIGNED = "Caso asignado a {advisor}."
CASE_CANNOT_REASSIGN = "Solo quien atiende el caso (o un administrador) puede reasignarlo."
CASE_RULES = "Reglas: {rules}"
CASE_KNOCKOUTS = "Eliminatorias: {answers}"
CASE_APPLICANT_FILE_STORED = "[envió un archivo: {kind}]"
