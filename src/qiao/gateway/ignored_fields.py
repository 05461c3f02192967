"""Check the chat request fields that OpenAI defines and Qiao accepts but does not apply.

A client that sends ``top_p`` 2 or ``seed`` "x" has a bug that OpenAI reports
with a 400, so Qiao reports it too, even though it ignores the values. Fields
whose requested behaviour Qiao cannot deliver (JSON mode, log probabilities)
are rejected when they ask for it, and accepted when they ask for the default.
"""

from __future__ import annotations

from typing import Any

from qiao.gateway.errors import invalid

__all__ = ["check_ignored_fields"]

# Field, lowest and highest value, as OpenAI's API reference gives them.
NUMBER_RANGES = {
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
RESPONSE_FORMATS = ("json_object", "json_schema")


def check_ignored_fields(body: dict[str, Any]) -> None:
    """Raise APIError 400 for an ignored field with a wrong type or range, or an unmet request."""
    for name, (low, high) in NUMBER_RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not low <= value <= high:
            message = f"invalid '{name}' {value!r}; use a number from {low:g} to {high:g}"
            raise invalid(message, name)

    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise invalid(f"invalid 'seed' {seed!r}; use a whole number", "seed")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid(f"invalid 'user' {user!r}; use a string", "user")
    logit_bias = body.get("logit_bias")
    if logit_bias is not None and not isinstance(logit_bias, dict):
        raise invalid("'logit_bias' must be an object of token ids and biases", "logit_bias")

    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise invalid(f"invalid 'logprobs' {logprobs!r}; use true or false", "logprobs")
    if logprobs or body.get("top_logprobs"):
        raise invalid(
            "log probabilities are not supported by Qiao; leave out 'logprobs' and 'top_logprobs'",
            "logprobs",
        )

    response_format = body.get("response_format")
    if response_format is None:
        return
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in RESPONSE_FORMATS:
        raise invalid(
            f"'response_format' {kind!r} is not supported by Qiao; leave it out or use "
            '{"type": "text"}',
            "response_format",
        )
    if kind != "text":
        raise invalid(
            'invalid \'response_format\'; use {"type": "text"} or leave it out', "response_format"
        )
