"""Exact and near-duplicate detection for conversations.

Exact duplicates have the same messages after normalization and scrubbing
(a SHA-256 of the canonical JSON). Near duplicates are found with MinHash
over character shingles and locality-sensitive hashing (LSH), as in Broder,
"On the resemblance and containment of documents" (1997), and the banding
scheme of Leskovec, Rajaraman and Ullman, *Mining of Massive Datasets*, ch. 3:

- The shingles of a conversation are its overlapping runs of
  :data:`SHINGLE_CHARS` characters, taken from the lower-cased text of all
  messages with whitespace removed (Chinese has no word boundaries, so
  characters are the natural unit).
- Each of :data:`NUM_PERM` hash functions ``(a * h + b) mod (2**61 - 1)``
  over the 32-bit MurmurHash3 ``h`` of each shingle keeps its minimum; the
  share of equal minima estimates the Jaccard similarity of two shingle sets.
- Signatures are cut into ``bands`` of ``rows`` values; two conversations
  become candidates when one band is equal. The band count is chosen for the
  threshold as datasketch's MinHashLSH chooses it (least weighted sum of
  false positive and false negative probability), but with false negatives
  weighted 0.9 instead of 0.5, because each candidate pair is then checked
  against the threshold with the signature estimate, so a false positive
  costs only that check. At threshold 0.8 (14 bands of 9 rows) a pair with
  similarity 0.8 becomes a candidate with probability 0.87, one with 0.85
  with probability 0.975.

The first occurrence of a group of duplicates is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import mmh3
import numpy as np

__all__ = ["NUM_PERM", "SHINGLE_CHARS", "NearDuplicateIndex", "content_key", "lsh_bands"]

NUM_PERM = 128
SHINGLE_CHARS = 5
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


def content_key(messages: list[dict]) -> str:
    """Return a SHA-256 of the canonical JSON of ``messages`` (roles and contents)."""
    canonical = json.dumps(
        [[message["role"], message["content"]] for message in messages], ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """Return ``(bands, rows)`` with ``bands * rows <= num_perm`` best suited to ``threshold``.

    A pair with Jaccard similarity ``s`` becomes a candidate with probability
    ``1 - (1 - s**rows)**bands``; the choice minimizes the integrated false
    positive probability below the threshold times 0.1 plus the false
    negative probability above it times 0.9.
    """
    below = np.linspace(0.0, threshold, 200)
    above = np.linspace(threshold, 1.0, 200)
    best = (num_perm, 1)
    best_error = float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = np.trapezoid(1 - (1 - below**rows) ** bands, below)
            false_negative = np.trapezoid((1 - above**rows) ** bands, above)
            error = float(0.1 * false_positive + 0.9 * false_negative)
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def _shingles(text: str) -> set[str]:
    compact = "".join(text.lower().split())
    if len(compact) <= SHINGLE_CHARS:
        return {compact}
    starts = range(len(compact) - SHINGLE_CHARS + 1)
    return {compact[start : start + SHINGLE_CHARS] for start in starts}


class NearDuplicateIndex:
    """MinHash LSH index: ``add`` returns the earlier near duplicate of a text, if any."""

    def __init__(self, threshold: float = 0.8, *, seed: int = 1, num_perm: int = NUM_PERM) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold {threshold} must be in (0, 1]")
        self.threshold = threshold
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        generator = np.random.default_rng(seed)
        # a < 2**31 and h < 2**32 keep a * h + b below 2**64, so uint64 never overflows.
        self._a = generator.integers(1, 1 << 31, size=num_perm, dtype=np.uint64)
        self._b = generator.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
        self._buckets: list[dict[bytes, list[int]]] = [defaultdict(list) for _ in range(self.bands)]
        self._signatures: list[np.ndarray] = []

    def signature(self, text: str) -> np.ndarray:
        hashes = np.fromiter(
            (mmh3.hash(shingle, signed=False) for shingle in _shingles(text)), dtype=np.uint64
        )
        permuted = (np.outer(hashes, self._a) + self._b) % _MERSENNE_PRIME & _MAX_HASH
        return permuted.min(axis=0)

    def add(self, text: str) -> int | None:
        """Return the index of an earlier text at or above the threshold, or add this one.

        A text that has a near duplicate is not added, so later texts are
        compared only with kept ones.
        """
        signature = self.signature(text)
        keys = [
            signature[band * self.rows : (band + 1) * self.rows].tobytes()
            for band in range(self.bands)
        ]
        candidates: set[int] = set()
        for band, key in enumerate(keys):
            candidates.update(self._buckets[band].get(key, ()))
        for candidate in sorted(candidates):
            if self.similarity(signature, self._signatures[candidate]) >= self.threshold:
                return candidate

        index = len(self._signatures)
        self._signatures.append(signature)
        for band, key in enumerate(keys):
            self._buckets[band][key].append(index)
        return None

    @staticmethod
    def similarity(first: np.ndarray, second: np.ndarray) -> float:
        """Return the Jaccard similarity estimated from two signatures."""
        return float(np.mean(first == second))
