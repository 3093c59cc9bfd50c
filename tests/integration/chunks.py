"""Reading the chunked response streams of IssueCredentialBatch, IssueCredentialStream and
VerifyCredentialBatch: each message carries `results`, and most tests want the results
one by one, in the order they arrived."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any


async def each_result(call: AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The results of every message of `call`, as each message arrives."""
    async for chunk in call:
        for result in chunk.results:
            yield result


async def all_results(call: AsyncIterable[Any]) -> list[Any]:
    """Every result of `call`, in the order received, once the stream has ended."""
    return [result async for chunk in call for result in chunk.results]
