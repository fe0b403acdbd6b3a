"""Bounded HTTP reads: a probe never trusts a server to send a sane amount of data."""

from __future__ import annotations

import json
from typing import Any

import httpx


class AnswerError(Exception):
    """An HTTP answer that arrived but cannot be what the probe asked for.

    `final`: asking again cannot help (a refused key, a taken ID), so polling stops.
    """

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


async def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    """The (decoded) body of a streamed `response`, refusing more than `limit` bytes.

    An endless body is cut off here; a slow one by the caller's attempt timeout.
    """
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise AnswerError(f"{what}: the body exceeds {limit // 1024} KiB; refusing to read on")
    return bytes(body)


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """`body` as a JSON object, or an AnswerError that quotes its start."""
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise AnswerError(f"{what}: the body is not JSON: {_quote(body)}") from None
    if not isinstance(value, dict):
        raise AnswerError(f"{what}: the body is JSON {type(value).__name__}, not an object")
    return value


def _quote(body: bytes, width: int = 60) -> str:
    text = body[:width].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(body) > width else "")
