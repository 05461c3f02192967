"""Batches of token sequences, left-padded so that every prompt ends at the last position."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from qiao.optional import require

__all__ = ["left_pad", "length_batches", "pad_token_id"]


def pad_token_id(tokenizer: Any) -> int:
    """Return the tokenizer's pad token id, falling back to its end-of-sequence token."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Yield index lists of at most ``batch_size`` items, longest first.

    Grouping sequences of similar length keeps padding small, and starting
    with the longest shows a lack of memory in the first batch.
    """
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, Any]:
    """Return ``input_ids``, ``attention_mask`` and ``position_ids`` tensors, left-padded.

    Positions count from 0 at each sequence's first real token, so that a
    padded prompt sees the same positions as it would alone.
    """
    torch = require("torch", "workshop")
    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        if sequence:
            input_ids[row, width - len(sequence) :] = torch.tensor(list(sequence))
            attention_mask[row, width - len(sequence) :] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
