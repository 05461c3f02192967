"""The [gateway] settings: defaults, file and environment, and invalid values."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiao.config import load_settings
from qiao.errors import ConfigError


def test_gateway_defaults(home: Path) -> None:
    gateway = load_settings().gateway

    assert gateway.host == "127.0.0.1"
    assert gateway.port == 8000
    assert gateway.auth == "auto"
    assert gateway.cache is True
    assert gateway.audit_question == "hash"


def test_gateway_from_file_and_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[gateway]\nport = 9000\nqueue_size = 2\naudit_question = "text"\ncache = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("QIAO_GATEWAY_PORT", "9100")
    gateway = load_settings().gateway

    assert gateway.port == 9100
    assert gateway.queue_size == 2
    assert gateway.audit_question == "text"
    assert gateway.cache is False


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gateway.auth", "maybe", "gateway.auth = 'maybe'; choose one of auto, on, off"),
        ("gateway.audit_question", "all", "choose one of hash, text, off"),
        ("gateway.port", 70000, "gateway.port = 70000; use 1 to 65535"),
        ("gateway.queue_size", -1, "gateway.queue_size = -1; use at least 0"),
        ("gateway.concurrency", 0, "gateway.concurrency = 0; use at least 1"),
        ("gateway.request_timeout_s", 0, "gateway.request_timeout_s = 0.0; use at least 0.1"),
        ("gateway.max_input_chars", 10, "use at least 100"),
        ("gateway.port", "eighty", "expected int"),
    ],
)
def test_invalid_gateway_setting(home: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(**{key: value})

    assert message in str(raised.value)


def test_extra_router_joins_app(tmp_path: Path) -> None:
    import httpx
    from fastapi import APIRouter
    from gateway_support import load_clean_settings, running_gateway

    from qiao.errors import NotFoundError

    router = APIRouter()

    @router.get("/extra/{name}")
    async def extra(name: str) -> dict[str, str]:
        if name == "missing":
            raise NotFoundError("space 'missing' not found")
        return {"name": name}

    settings = load_clean_settings(tmp_path, **{"generator.kind": "extractive"})
    with running_gateway(settings, routers=(router,)) as gateway:
        found = httpx.get(gateway.base_url + "/extra/books")
        missing = httpx.get(gateway.base_url + "/extra/missing")
        models = httpx.get(gateway.base_url + "/v1/models")

    assert found.json() == {"name": "books"}
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "space 'missing' not found"
    assert models.status_code == 200
