"""Content-Encoding decoding with bounded output: a few kilobytes of gzip, deflate or brotli — stacked too
(``gzip, gzip``) — can expand to gigabytes, so no step may produce more than ``STEP`` bytes at a time and the
caller stops reading once its limit is passed."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import brotli

STEP = 64 * 1024  # the most output one decoding step produces


class DecodingError(Exception):
    """The body is not valid in its declared encoding."""


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (``wbits`` 16 + 15), zlib-wrapped deflate (15) or raw deflate (-15)."""

    def __init__(self, wbits: int):
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflate.eof:  # whatever follows the end of the stream is ignored, not kept
            return
        while True:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error as exc:
                if self._wbits == zlib.MAX_WBITS and not self._started:  # "deflate" sent without its zlib header
                    self._wbits, self._inflate = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise DecodingError(f"invalid compressed data: {exc}") from None
            self._started = True
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < STEP:  # input used up and nothing held back
                return


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._decompressor.process(data, output_buffer_limit=STEP)
            while True:
                if out:
                    yield out
                if self._decompressor.can_accept_more_data():
                    return
                out = self._decompressor.process(b"", output_buffer_limit=STEP)
        except brotli.error as exc:
            raise DecodingError(f"invalid brotli data: {exc}") from None


def _stage(encoding: str) -> _Stage | None:
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Zlib(zlib.MAX_WBITS)
    if encoding == "br":
        return _Brotli()
    return None  # identity, or a coding we never asked for: passed through as it is


class BoundedDecoder:
    """Decodes a body sent with ``Content-Encoding: <encodings>`` (applied in the listed order, so undone in
    reverse), in pieces of at most ``STEP`` bytes."""

    def __init__(self, content_encoding: str | None):
        names = [e.strip().lower() for e in (content_encoding or "").split(",")]
        self._stages = [s for s in map(_stage, reversed(names)) if s is not None]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw chunk. Raises DecodingError."""
        return self._through(self._stages, data)

    def _through(self, stages: Sequence[_Stage], data: bytes) -> Iterator[bytes]:
        if not stages:
            if data:
                yield data
            return
        for piece in stages[0].feed(data):
            yield from self._through(stages[1:], piece)
