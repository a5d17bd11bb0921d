"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

PTB's own `HTTPXRequest` spends most of an update's CPU in httpx, httpcore and anyio (about 11 ms per update
against aiogram's 4 ms on aiohttp, `benchmarks/surfaces.py --phases cpu`), which keeps a PTB bot under the
300 updates/s of issue #19 on two cores. PTB lets the transport be replaced (`telegram.request.BaseRequest`,
"Custom request backends" in its docs); this one speaks the same requests over one aiohttp session, the
library aiogram and our webhook already use. Errors map to PTB's own (`TimedOut`, `NetworkError`), so the
rest of PTB, and our front desk, cannot tell the difference.
"""

from __future__ import annotations

import aiohttp
import orjson

# PTB types its default timeouts with these (its own HTTPXRequest imports them the same way)
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool; timeouts as PTB passes them per call."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 10.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect, self._pool = read_timeout, write_timeout, connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = self._write if isinstance(write_timeout, DefaultValue) else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp has no separate write timeout: the whole call may take connect + write + read at most
        parts = [t for t in (connect, write, read) if t is not None]
        timeout = aiohttp.ClientTimeout(
            total=sum(parts) + (pool or 0) if len(parts) == 3 else None,
            connect=pool,  # aiohttp's `connect` is the wait for a pooled connection plus the connect
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None:
            if request_data.contains_files:
                data = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    data.add_field(name, value)
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    data.add_field(name, content, filename=filename, content_type=mime)
            else:
                # a JSON body, which the Bot API takes for every method without files: url-encoding the fields
                # through aiohttp's FormData cost about as much as the rest of the request
                data, headers = orjson.dumps(request_data.parameters), _JSON
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # asyncio.TimeoutError is the same class since 3.11
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
