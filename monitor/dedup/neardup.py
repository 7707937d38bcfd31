"""Near-duplicate detection for article texts: MinHash signatures and LSH band keys.

Pure functions, no storage. A text is normalised (NFC, lower-case, ``\\w+`` tokens), cut into overlapping
word shingles and summarised by a MinHash signature (datasketch's ``affine32`` scheme, fixed seed) plus the
exact number of distinct shingles. Computing a signature takes numpy (the worker processes do it); storing,
comparing and keying signatures do not (the main process never loads numpy). The caller stores
:meth:`Signature.to_bytes` and one row per :func:`band_keys` key; a new article's candidates are the stored
articles sharing at least one band key, and :func:`best_match` decides among them.

Two texts are the same story (:func:`same_story`) when the estimated *containment* of the smaller shingle set
in the larger one reaches ``threshold`` and their estimated Jaccard similarity reaches ``min_jaccard``.
Containment, because a syndicated copy extracted from another site's page carries extra boilerplate around the
same body: Jaccard falls with every extra word, containment does not. The Jaccard floor bounds the size ratio,
so that a short text (a paywall stub, a boilerplate block) cannot pull in every long page that contains it;
with the default 0.2 a body wrapped in twice its own length of boilerplate still matches (99% measured; 87%
at three times). The LSH bands have 2 rows, so a pair at the floor is a candidate with probability
1 - (1 - 0.2²)⁶⁴ = 0.93 and one at Jaccard 0.3 with 0.997. See ``monitor.evaluation.stories``.

Signatures and band keys depend on ``shingle_words``, ``num_perm``, ``bands`` and ``min_words``: changing
any of them means recomputing the stored signatures and keys; ``threshold`` and ``min_jaccard`` apply at
lookup time only.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import eq, methodcaller
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from monitor.core.config import StoriesSettings

_TOKEN = re.compile(r"\w+")
_SEED = 1  # datasketch's default seed: its ``MinHash(seed=1, scheme="affine32")`` gives the same signatures
_STORED = "<{}I"  # storage: shingle count, then one value per permutation, uint32 little-endian
_DIGEST = methodcaller("digest")
_SHA1_WORDS = 5  # 32-bit words in a SHA-1 digest

_K = TypeVar("_K")


@dataclass(frozen=True)
class NearDupConfig:
    """Parameters of the near-duplicate check; defaults chosen on the extraction benchmark."""

    threshold: float = 0.6  # estimated containment at/above which two texts are the same story
    min_jaccard: float = 0.2  # ... provided their estimated Jaccard similarity is at least this
    shingle_words: int = 5  # words per shingle
    num_perm: int = 128  # MinHash permutations
    bands: int = 64  # LSH bands (rows = num_perm // bands)
    min_words: int = 50  # texts with fewer words get no signature: only exact matching applies

    @classmethod
    def of(cls, stories: StoriesSettings) -> NearDupConfig:
        """The near-duplicate check the ``[stories]`` settings choose."""
        return cls(threshold=stories.threshold, min_jaccard=stories.min_jaccard, min_words=stories.min_words)

    def __post_init__(self) -> None:
        if not (0.0 < self.threshold <= 1.0 and 0.0 <= self.min_jaccard <= 1.0):
            raise ValueError("threshold must be in (0, 1] and min_jaccard in [0, 1]")
        if self.shingle_words < 1 or self.min_words < self.shingle_words:
            raise ValueError("need 1 <= shingle_words <= min_words")
        if self.bands < 1 or self.num_perm % self.bands:
            raise ValueError("num_perm must be a positive multiple of bands")

    @property
    def rows(self) -> int:
        """MinHash values per LSH band."""
        return self.num_perm // self.bands


@dataclass(frozen=True)
class Signature:
    """MinHash values of a text's shingle set and the set's exact size."""

    hashvalues: tuple[int, ...]  # uint32, one per permutation
    size: int  # number of distinct shingles

    def to_bytes(self) -> bytes:
        """Compact storage form: 4 + 4 * num_perm bytes."""
        return struct.pack(_STORED.format(1 + len(self.hashvalues)), self.size, *self.hashvalues)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Inverse of :meth:`to_bytes`."""
        if len(data) < 8 or len(data) % 4:
            raise ValueError("not a signature")
        size, *values = struct.unpack(_STORED.format(len(data) // 4), data)
        return cls(tuple(values), size)


def words(text: str) -> list[str]:
    """Normalised tokens: NFC, lower-case, ``\\w+``."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's ``affine32`` permutation parameters (a, b) for ``_SEED``, uint32 arrays: what
    ``MinHash(num_perm, seed=_SEED, scheme="affine32").permutations`` holds, without loading datasketch (it
    imports scipy) or numpy.random.

    datasketch draws them from numpy's legacy ``RandomState(_SEED)``: a Mersenne Twister seeded by
    ``init_genrand``, whose ``randint(0, 2**31, dtype=uint32)`` is a 32-bit output with its top bit cleared and
    ``randint(0, 2**32, dtype=uint32)`` the output itself. Python's ``random`` is the same generator; given that
    state, its ``getrandbits(32)`` returns the same outputs.
    """
    import numpy as np

    state = [_SEED]
    for i in range(1, 624):  # init_genrand
        state.append((1812433253 * (state[-1] ^ (state[-1] >> 30)) + i) & 0xFFFFFFFF)
    generator = random.Random()
    generator.setstate((3, (*state, 624), None))
    a = [(generator.getrandbits(32) & 0x7FFFFFFF) * 2 + 1 for _ in range(num_perm)]  # odd multipliers
    b = [generator.getrandbits(32) for _ in range(num_perm)]
    return np.array(a, dtype=np.uint32), np.array(b, dtype=np.uint32)


def _minhash(shingles: Iterable[str], num_perm: int) -> tuple[int, ...]:
    """datasketch's ``affine32`` MinHash of the shingles' ``sha1_hash32``, for all of them at once.

    Each shingle's hash is its UTF-8 bytes' SHA-1 digest's first 4 bytes, little-endian; it is mixed by the
    MurmurHash3 finaliser, then permutation k maps it to ``a[k] * h + b[k]`` (uint32, wrapping); the signature
    holds each permutation's minimum. ``MinHash.update_batch`` computes the same but takes one Python call per
    input (``tests/test_neardup.py`` checks that the two agree).
    """
    import numpy as np  # the worker processes', preloaded by their forkserver

    digests = b"".join(map(_DIGEST, map(hashlib.sha1, map(str.encode, shingles))))
    h = np.frombuffer(digests, dtype="<u4").reshape(-1, _SHA1_WORDS)[:, :1]
    h = h ^ (h >> 16)
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * np.uint32(0xC2B2AE35)
    h = h ^ (h >> 16)
    a, b = _permutations(num_perm)
    return tuple((h * a + b).min(axis=0).tolist())


def signature(text: str, config: NearDupConfig) -> Signature | None:
    """MinHash signature of ``text``, or None when it has fewer than ``config.min_words`` words."""
    tokens = words(text)
    if len(tokens) < config.min_words:
        return None
    # every run of shingle_words consecutive tokens (zip stops with the shortest, last slice)
    shingles = set(map(" ".join, zip(*(tokens[i:] for i in range(config.shingle_words)), strict=False)))
    return Signature(_minhash(shingles, config.num_perm), len(shingles))


def band_keys(sig: Signature, config: NearDupConfig) -> list[str]:
    """One key per LSH band, ``"<band>:<16 hex digits>"``; equal keys mean equal MinHash values there."""
    if len(sig.hashvalues) != config.num_perm:
        raise ValueError("signature does not match config.num_perm")
    values = sig.to_bytes()[4:]  # the band's values as stored: uint32 little-endian
    width = 4 * config.rows
    return [
        f"{band:02d}:{hashlib.blake2b(values[band * width : (band + 1) * width], digest_size=8).hexdigest()}"
        for band in range(config.bands)
    ]


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    if len(a.hashvalues) != len(b.hashvalues):
        raise ValueError("signatures have different numbers of permutations")
    return sum(map(eq, a.hashvalues, b.hashvalues)) / len(a.hashvalues)


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller shingle set that is also in the larger one.

    From the Jaccard estimate J and the exact set sizes: |A ∩ B| = J (|A| + |B|) / (1 + J).
    """
    j = similarity(a, b)
    return min(1.0, j * (a.size + b.size) / ((1.0 + j) * min(a.size, b.size)))


def same_story(a: Signature, b: Signature, config: NearDupConfig) -> bool:
    """The decision for one candidate pair: containment >= threshold and Jaccard >= min_jaccard."""
    return similarity(a, b) >= config.min_jaccard and containment(a, b) >= config.threshold


def best_match(
    sig: Signature, candidates: Iterable[tuple[_K, Signature]], config: NearDupConfig
) -> _K | None:
    """Key of the candidate that is the same story as ``sig`` with the highest containment, or None.

    Ties go to the candidate listed first, so pass candidates oldest first.
    """
    best: _K | None = None
    best_score = -1.0
    for key, other in candidates:
        if same_story(sig, other, config) and (score := containment(sig, other)) > best_score:
            best, best_score = key, score
    return best
