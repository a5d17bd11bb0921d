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
DELETED = (
    "Borramos tus datos personales (nombre, año de nacimiento, teléfono, respuestas y evaluaciones) y "
    "terminamos la conversación. Si vuelves a escribir /start empezaremos desde cero."
)
STATE_REPAIRED = (
    "Actualizamos el asistente desde tu última visita. Conservamos tus respuestas válidas y seguimos "
    "desde el primer dato que falta."
)
ASSESSING = "Calculando tu resultado… ⏳"
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
HANDOFF = "Aquí está tu enlace a la solicitud de financiamiento. Es personal y vence en unas horas; no lo compartas."
TEMPORARY_ERROR = (
    "Tuvimos un problema técnico momentáneo y no pude registrar tu último mensaje. "
    "Por favor inténtalo de nuevo en unos segundos."
)
