"""Stop sequences applied to text that Qiao writes itself (``kb:`` answers).

Generators get the request's ``stop`` list and apply it themselves; knowledge-base
answers are cut here, because the answerer does not take stop sequences.
"""

from __future__ import annotations

__all__ = ["StopFilter"]


class StopFilter:
    """Cuts text at the first stop sequence, holding back a possible partial match."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops
        self.hold = max((len(stop) for stop in stops), default=1) - 1
        self.buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if not self.stops:
            return text
        if self.stopped:
            return ""
        self.buffer += text
        positions = [self.buffer.find(stop) for stop in self.stops]
        found = [position for position in positions if position >= 0]
        if found:
            self.stopped = True
            emitted, self.buffer = self.buffer[: min(found)], ""
            return emitted
        cut = max(0, len(self.buffer) - self.hold)
        emitted, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return emitted

    def flush(self) -> str:
        emitted, self.buffer = self.buffer, ""
        return emitted
