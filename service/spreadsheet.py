"""CSV for spreadsheet programs: UTF-8 with a byte-order mark and `;` between cells, as Excel
with German settings opens it (the comma is the decimal mark there), and no cell that the
program would run as a formula (CWE-1236).

`csv_bytes` makes a whole (small) file; `csv_download` streams an export chunk by chunk from
an async source of row batches (a server-side cursor), so a file of 100,000 rows is never
held in memory. Both write through the same `_Sheet`, so the bytes are the same."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

from litestar.response import Stream
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Send

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BOM = "\ufeff"
# Litestar adds "; charset=utf-8" to a text/ type (the old "text/csv; charset=utf-8" was
# sent with the charset twice).
MEDIA_TYPE = "text/csv"
R = TypeVar("R")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Sheet:
    """The one CSV writer: lines go into a buffer that is handed out and emptied per batch."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, delimiter=";", lineterminator="\r\n")

    def _taken(self) -> str:
        text = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return text

    def header(self, header: Sequence[str]) -> str:
        """The byte-order mark and the header line."""
        self._writer.writerow(header)
        return _BOM + self._taken()

    def rows(self, rows: Iterable[Iterable[Any]]) -> str:
        self._writer.writerows([safe_cell(value) for value in row] for row in rows)
        return self._taken()


def csv_bytes(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> bytes:
    sheet = _Sheet()
    return (sheet.header(header) + sheet.rows(rows)).encode("utf-8")


async def csv_chunks(
    header: Sequence[str],
    batches: AsyncIterable[Iterable[R]],
    line: Callable[[R], Iterable[Any]],
) -> AsyncIterator[bytes]:
    """The file of `csv_bytes(header, lines of all rows)`, one piece per batch of rows (the
    header goes with the first, so the first piece is not a lone line)."""
    sheet = _Sheet()
    head = sheet.header(header)
    try:
        async for rows in batches:
            yield (head + sheet.rows(map(line, rows))).encode("utf-8")
            head = ""
    finally:
        # Closed early (the client went away): close the source too, now, not at its
        # finalisation — `async for` leaves it suspended.
        close = getattr(batches, "aclose", None)
        if close is not None:
            await close()
    if head:  # no rows at all
        yield head.encode("utf-8")


class _ClosingStreamingResponse(ASGIStreamingResponse):
    """Closes its iterator when the body ends, however it ends: sent in full, the client gone
    (Litestar cancels the stream on `http.disconnect`), or `send` failing. So a database cursor
    and its transaction end while the request still holds its connection, instead of whenever
    the garbage collector finalises the generator."""

    __slots__ = ()

    async def send_body(self, send: Send, receive: Receive) -> None:
        try:
            await super().send_body(send, receive)
        finally:
            close = getattr(self.iterator, "aclose", None)
            if close is not None:
                await close()


class _CsvStream(Stream):
    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().to_asgi_response(*args, **kwargs)
        response.__class__ = _ClosingStreamingResponse  # same layout: no slots of its own
        return response


def csv_download(
    filename: str,
    header: Sequence[str],
    batches: AsyncIterable[Iterable[R]],
    line: Callable[[R], Iterable[Any]],
) -> Stream:
    """A streamed CSV attachment: `line` makes the cells of each row of `batches` (e.g. an
    async generator over a server-side cursor, `service.db.in_batches`), read as the client
    takes the file. The route must keep its database connection until the response has ended
    (`service.db.share_connection`)."""
    return _CsvStream(
        csv_chunks(header, batches, line),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
