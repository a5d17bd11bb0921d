"""`asesor bot`: run the Telegram bot (polling locally, webhook in production)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, NoReturn

import typer
import uvloop

from cli.errors import ExitCode, fail, report
from cli.local_redis import LOCAL_REDIS_URL, reachable_redis
from core import copy_es as copy

FRAMEWORKS = ("aiogram", "ptb")


def _fail(error: str, message: str, *, setting: str, exit_code: int = ExitCode.CONFIG) -> NoReturn:
    fail(error, message, field=setting, exit_code=exit_code)


def run(
    mode: str | None = typer.Option(None, "--mode", help=copy.BOT_MODE),
    framework: str = typer.Option("aiogram", "--framework", help=copy.BOT_FRAMEWORK),
    host: str = typer.Option("0.0.0.0", "--host", help=copy.BOT_HOST),
    port: int = typer.Option(8081, "--port", help=copy.BOT_PORT),
    log_level: str | None = typer.Option(None, "--log-level", help=copy.SERVICE_LOG_LEVEL),
    log_format: str | None = typer.Option(None, "--log-format", help=copy.SERVICE_LOG_FORMAT),
    workers: int = typer.Option(1, "--workers", min=1, help=copy.BOT_WORKERS),
    pin_cpus: bool = typer.Option(False, "--pin-cpus", help=copy.BOT_PIN_CPUS),
) -> None:
    """Bot de Telegram del solicitante. Necesita BOT_TOKEN; usa REDIS_URL (un Redis local si falta) y DATABASE_URL.

    Salida: 3 si falta o Telegram rechaza un ajuste (BOT_TOKEN, WEBHOOK_URL), 4 si Redis o Telegram no responden."""
    from core.config import ensure_safe, load_settings

    settings = load_settings()  # an invalid variable (BOT_MODE=…) is a JSON error and exit 3
    from cli.logs import service_logging

    log_level, log_format = service_logging(settings, log_level, log_format)
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        _fail(
            "missing_setting",
            "Falta BOT_TOKEN: el token que @BotFather da al crear el bot (formato 123456:ABC…). "
            "Expórtalo (export BOT_TOKEN=…) o ponlo en .env y vuelve a ejecutar `asesor bot`.",
            setting="BOT_TOKEN",
        )
    mode = (mode or settings.bot_mode or "polling").lower()
    if mode not in ("polling", "webhook"):
        _fail("invalid_setting", f"--mode debe ser 'polling' o 'webhook', no {mode!r}.", setting="--mode")
    if mode == "webhook" and not settings.webhook_url:
        _fail(
            "missing_setting",
            "El modo webhook necesita WEBHOOK_URL: la URL pública (https) que Telegram llamará.",
            setting="WEBHOOK_URL",
        )
    framework = framework.lower()
    if framework not in FRAMEWORKS:
        _fail(
            "invalid_setting",
            f"--framework debe ser {' o '.join(FRAMEWORKS)}, no {framework!r}.",
            setting="--framework",
            exit_code=ExitCode.BAD_INPUT,
        )
    if workers > 1 and mode != "webhook":
        _fail(
            "invalid_setting",
            "--workers mayor que 1 solo en modo webhook: getUpdates admite un solo lector por bot.",
            setting="--workers",
            exit_code=ExitCode.BAD_INPUT,
        )
    # outside development: no public, missing, short or shared secret, and an encryption key (exit 3)
    ensure_safe(settings, "bot", webhook=mode == "webhook")
    if workers > 1:
        raise typer.Exit(_supervise(framework, workers, host, port, log_level, pin_cpus, log_format))
    _serve(framework, mode, host, port, log_level, log_format=log_format)


def _serve(
    framework: str,
    mode: str,
    host: str,
    port: int,
    log_level: str,
    reuse_port: bool = False,
    cpu: int | None = None,
    log_format: str = "auto",
) -> None:
    from core.config import get_settings
    from core.logging import configure_logging

    if cpu is not None:
        from bot.app import pin_to_cpu

        pin_to_cpu(cpu)

    # again in a spawned worker: it has not run the root command's set-up; the settings' secrets are redacted
    configure_logging(log_level, log_format, settings=get_settings())
    # uvloop: a faster event loop for the same code (it is what uvicorn runs the API on, too)
    # Ctrl-C, or the supervisor stopping its workers: _main's cleanup has run by the time it surfaces here
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(get_settings(), mode, host, port, reuse_port=reuse_port, framework=framework))


def _worker(*args: Any) -> None:
    """A spawned webhook worker: the same clean JSON error as the parent's, not multiprocessing's traceback."""
    try:
        _serve(*args)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:
        raise SystemExit(report(exc)) from None


def _supervise(
    framework: str,
    workers: int,
    host: str,
    port: int,
    log_level: str,
    pin_cpus: bool = False,
    log_format: str = "auto",
) -> int:
    """Webhook mode on several CPUs: `workers` processes listen on one port (SO_REUSEPORT, the kernel spreads
    Telegram's connections) and share the dialog state, the chat locks and the idempotency guard in Redis.
    SIGINT or SIGTERM stops them all gracefully; if one dies, the others are stopped and the exit code says so
    (the process manager restarts the whole set)."""
    import multiprocessing
    import os
    import signal

    from core.config import get_settings
    from storage.db import is_sqlite, migrate

    settings = get_settings()
    uvloop.run(_preflight(settings, framework))  # one error, with its exit code, before any worker starts
    db_url = settings.resolved_database_url
    if is_sqlite(db_url):  # once here, not in two workers racing to create the same tables
        migrate(db_url)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no event loop or pool is inherited
    procs = [
        ctx.Process(
            target=_worker,
            args=(framework, "webhook", host, port, log_level, True, i if pin_cpus else None, log_format),
            name=f"asesor-bot-{i}",
        )
        for i in range(workers)
    ]
    stopping = False
    failed: list[int] = []  # the first worker's own exit code (3 configuration, 4 unavailable …) is the set's

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.pid is not None and p.exitcode is None:
                os.kill(p.pid, signal.SIGINT)  # each worker shuts down as after Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    while any(p.exitcode is None for p in procs):
        for p in procs:
            p.join(0.5)
            if p.exitcode not in (None, 0) and not stopping:
                logging.getLogger("asesor.bot").error("worker %s exited with %s; stopping the rest", p.name, p.exitcode)
                failed.append(p.exitcode)
                stop()
    if failed and failed[0] > 0:
        return failed[0]
    return 0 if stopping and all(p.exitcode in (0, -signal.SIGINT) for p in procs) else 1


async def _main(
    settings: Any, mode: str, host: str, port: int, *, reuse_port: bool = False, framework: str = "aiogram"
) -> None:
    from bot.app import bot_id_of, telegram_bot, webhook_secrets
    from core.config import ensure_safe
    from core.conversation import conversation_parts
    from core.heap import freeze_startup_heap
    from core.model_reload import ModelUnavailable, ServedAssessor
    from dialogs.delivery import TELEGRAM, WEB
    from storage.db import is_sqlite, migrate
    from storage.events import EventSink
    from storage.repositories import Storage

    ensure_safe(settings, "bot", webhook=mode == "webhook")  # also when started without `run` (tests, workers)
    log = logging.getLogger("asesor.bot")
    runner, redis, redis_url = await _connect(settings, framework)
    bot_id = bot_id_of(settings.bot_token.get_secret_value().strip())

    db_url = settings.resolved_database_url
    if is_sqlite(db_url):  # the embedded local run: create or upgrade the schema itself
        await asyncio.to_thread(migrate, db_url)
    # built from `settings` (not the process-wide ones) so that the whole run follows what was passed in
    storage = Storage.from_settings(settings)
    sink = EventSink.from_settings(storage.engine, settings, redis_url=redis_url)
    sink.start()
    # the model the registry's `current` names, switched on a promotion without a restart (core.model_reload);
    # one that cannot serve is refused (logged) and the applicant gets a polite "try again", never another model
    watch = settings.model_watch_seconds
    served = ServedAssessor(settings.load_policy, settings.resolved_model_dir, watch_seconds=watch)
    with contextlib.suppress(ModelUnavailable):
        await asyncio.to_thread(served)
    served.start()
    if settings.advisors_chat_id is None:
        log.warning("ADVISORS_CHAT_ID is not set: escalations go only to the API queue")

    parts = conversation_parts(served.policy, storage, sink, redis)
    app = telegram_bot(
        runner.api(),
        parts,
        bot_id=bot_id,
        engine=served,
        settings=settings,
        advisors_chat_id=settings.advisors_chat_id,
    )
    runner.attach(app)
    freeze_startup_heap()  # the engine and the framework are loaded: keep them out of the collector's full passes
    # what other processes (the web chat) left for Telegram: case cards, relayed messages
    mail = asyncio.create_task(parts.mailbox.serve(TELEGRAM, app.courier.deliver), name="mailbox")
    # case messages to applicants that a failed Bot API call (or a dead process) left undelivered
    sweep = asyncio.create_task(parts.desk.serve_outbox(app.courier, (TELEGRAM, WEB)), name="case-outbox")
    try:
        await runner.set_commands()
        if mode == "webhook":
            secret, *previous = webhook_secrets(settings.signing_keys("webhook"), bot_id)
            await runner.webhook(
                public_url=settings.webhook_url,
                secret=secret,
                host=host,
                port=port,
                reuse_port=reuse_port,
                also_accept=tuple(previous),
            )
        else:
            await runner.polling()
    finally:
        served.stop()
        mail.cancel()
        sweep.cancel()
        await asyncio.gather(mail, sweep, return_exceptions=True)
        await app.settle()  # cases being posted to the advisors' chat finish before the session closes
        sink.stop()
        await runner.close()
        await redis.aclose()
        storage.dispose()


async def _connect(settings: Any, framework: str) -> tuple[Any, Any, str]:
    """The token's shape, Redis and Telegram's getMe, before the engine and storage load: a refused token (exit 3)
    or an unreachable Bot API or Redis (exit 4) fails in a second, as one JSON line (cli.errors.classify), instead
    of after the start-up work. Returns the framework's runner, the Redis client and its URL."""
    from bot.app import bot_id_of

    token = settings.bot_token.get_secret_value().strip()
    try:
        bot_id_of(token)
        runner: _Aiogram | _Ptb = (
            _Aiogram(token, settings.telegram_api_url)
            if framework == "aiogram"
            else _Ptb(token, settings.telegram_api_url)
        )
    except ValueError:
        _fail(
            "invalid_setting",
            "BOT_TOKEN no tiene el formato de un token de Telegram (123456:ABC…).",
            setting="BOT_TOKEN",
        )
    try:
        redis, redis_url = await reachable_redis(
            settings,
            "Define REDIS_URL, p. ej. con el Redis propio del repositorio: bash scripts/services.sh start redis && "
            'export REDIS_URL="$(bash scripts/services.sh url redis)/0"',
        )
    except typer.Exit:
        await runner.close()
        raise
    if not settings.redis_url:
        logging.getLogger("asesor.bot").info("REDIS_URL is not set: using the local Redis at %s", LOCAL_REDIS_URL)
    try:
        await runner.check()
    except BaseException:
        await runner.close()
        await redis.aclose()
        raise
    return runner, redis, redis_url


async def _preflight(settings: Any, framework: str) -> None:
    """`_connect` once in the supervisor, so a refused token or a service down is one error and its exit code,
    not one per worker and exit 1."""
    runner, redis, _ = await _connect(settings, framework)
    await runner.close()
    await redis.aclose()


class _Aiogram:
    """`asesor bot` on aiogram (the default)."""

    def __init__(self, token: str, api_url: str) -> None:
        from aiogram.utils.token import TokenValidationError

        from bot.aiogram_bot import make_bot

        try:
            self.bot = make_bot(token, api_url)
        except TokenValidationError:
            raise ValueError("not a Telegram bot token") from None

    async def check(self) -> None:
        await self.bot.get_me()

    def api(self) -> Any:
        from bot.aiogram_bot import AiogramApi

        return AiogramApi(self.bot)

    def attach(self, app: Any) -> None:
        from bot.aiogram_bot import AsesorDispatcher

        self.dp = AsesorDispatcher(app)

    async def set_commands(self) -> None:
        from aiogram.types import BotCommand

        from dialogs.flow import COMMANDS

        await self.bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS.items()])

    async def polling(self) -> None:
        from bot.aiogram_bot import run_polling

        await run_polling(self.bot, self.dp)

    async def webhook(self, **kwargs: Any) -> None:
        from bot.aiogram_bot import run_webhook

        await run_webhook(self.bot, self.dp, **kwargs)

    async def close(self) -> None:
        await self.bot.session.close()


class _Ptb:
    """`asesor bot --framework ptb` (python-telegram-bot 22)."""

    def __init__(self, token: str, api_url: str) -> None:
        from bot.ptb_bot import make_application

        self.application = make_application(token, api_url)
        self.ready = False

    async def check(self) -> None:
        await self.application.initialize()  # getMe
        self.ready = True

    def api(self) -> Any:
        from bot.ptb_bot import PtbApi

        return PtbApi(self.application.bot)

    def attach(self, app: Any) -> None:
        from bot.ptb_bot import attach

        attach(self.application, app)

    async def set_commands(self) -> None:
        from telegram import BotCommand

        from dialogs.flow import COMMANDS

        await self.application.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS.items()])

    async def polling(self) -> None:
        from bot.ptb_bot import run_polling

        await run_polling(self.application)

    async def webhook(self, **kwargs: Any) -> None:
        from bot.ptb_bot import run_webhook

        await run_webhook(self.application, **kwargs)

    async def close(self) -> None:
        if self.ready:
            await self.application.shutdown()
        else:  # getMe failed (a refused token, no Bot API): initialize() had opened the bot's HTTP sessions
            await self.application.bot.shutdown()
