"""The HTTP session to the Bot API: methods without files go as one JSON body, encoded with orjson.

aiogram's `AiohttpSession` sends every method as an url-encoded form and JSON-encodes each nested field
(a keyboard, an entity list) separately; under load that encoding was the largest single cost of a reply in
benchmarks/surfaces.py. The Bot API accepts `application/json` bodies for every method, so a method without
files is sent as JSON; a method with files (the bot sends none today) keeps aiogram's multipart form.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

_JSON_HEADERS = {"Content-Type": "application/json"}


def orjson_dumps(value: Any) -> str:
    """`json.dumps` with orjson (aiogram's sessions and storages take a `json_dumps` returning str)."""
    return orjson.dumps(value).decode()


class JsonAiohttpSession(AiohttpSession):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", orjson.loads)
        kwargs.setdefault("json_dumps", orjson_dumps)
        super().__init__(**kwargs)

    def build_json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The method as a JSON body, or None when it carries files (then a multipart form is needed)."""
        files: dict[str, Any] = {}
        # exclude_none: a keyboard button has ten optional fields; prepare_value would visit and drop each None
        dumped = method.model_dump(warnings=False, exclude_none=True)
        payload = self.prepare_value(dumped, bot=bot, files=files, _dumps_json=False)
        return None if files else orjson.dumps(payload)

    async def __call__(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if len(self.middleware):  # else skip building an empty middleware chain on every call
            return await super().__call__(bot, method, timeout)
        return await self.make_request(bot, method, timeout)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        body = self.build_json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=_JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)
