"""API keys of the gateway: ``qiao keys``, 401 and 403 responses, revocation, and the audit log."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from cli_runner import CliResult, run_qiao
from gateway_support import (
    RunningGateway,
    build_product_kb,
    load_clean_settings,
    running_gateway,
    upstream_server,
)

from qiao.gateway.access import auth_required
from qiao.gateway.audit import AuditLog

USER = [{"role": "user", "content": "青瓷茶杯多少钱？"}]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def gateway(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with upstream_server() as upstream:
        settings = load_clean_settings(
            home,
            **{
                "generator.kind": "extractive",
                "generator.base_url": upstream.base_url,
                "generator.model": "echo",
                "gateway.audit_question": "text",
            },
        )
        build_product_kb(settings, tmp_path_factory.mktemp("data"))
        # The host stays 127.0.0.1; auth=True is what `qiao serve --auth` sets.
        with running_gateway(settings, auth=True) as running:
            yield running


def qiao(home: Path, *arguments: str) -> CliResult:
    """Run ``qiao ARGUMENTS --home HOME --lang en`` through the CLI's entry point."""
    return run_qiao(*arguments, "--home", home, "--lang", "en")


def create_key(home: Path, name: str, *limits: str) -> dict:
    result = qiao(home, "keys", "create", name, *limits, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def client_for(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0)


def test_missing_key_gets_401(gateway: RunningGateway) -> None:
    import httpx

    response = httpx.post(
        gateway.base_url + "/v1/chat/completions", json={"model": "kb:shop", "messages": USER}
    )

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "missing API key" in response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["sk-not-a-qiao-key", "qiao-00000000-guessed"])
def test_wrong_key_gets_401(gateway: RunningGateway, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        client_for(gateway, key).models.list()

    assert raised.value.status_code == 401
    assert "qiao keys create" in raised.value.message


def test_key_with_wrong_secret_gets_401(gateway: RunningGateway, home: Path) -> None:
    created = create_key(home, "tamper")
    tampered = created["key"][:-4] + "AAAA"

    with pytest.raises(openai.AuthenticationError, match="invalid API key"):
        client_for(gateway, tampered).models.list()


def test_unlimited_key_uses_every_model(gateway: RunningGateway, home: Path) -> None:
    client = client_for(gateway, create_key(home, "admin")["key"])
    ids = {model.id for model in client.models.list()}
    echo = client.chat.completions.create(model="echo", messages=USER)
    answer = client.chat.completions.create(model="kb:shop", messages=USER)

    assert {"kb:shop", "echo", "multilingual-e5-small"} <= ids
    assert echo.choices[0].message.content == "回答：青瓷茶杯多少钱？"
    assert "88元" in answer.choices[0].message.content


def test_limited_key_sees_only_its_kb(gateway: RunningGateway, home: Path) -> None:
    client = client_for(gateway, create_key(home, "shop-web", "--kb", "shop")["key"])
    ids = [model.id for model in client.models.list()]
    answer = client.chat.completions.create(model="kb:shop", messages=USER)

    assert ids == ["kb:shop"]
    assert "88元" in answer.choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError, match="may not use model 'echo'"):
        client.chat.completions.create(model="echo", messages=USER)
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="multilingual-e5-small", input="茶")


def test_model_limited_key(gateway: RunningGateway, home: Path) -> None:
    client = client_for(gateway, create_key(home, "echo-only", "--model", "echo")["key"])

    assert client.chat.completions.create(model="echo", messages=USER).choices
    with pytest.raises(openai.PermissionDeniedError, match="it may use: echo"):
        client.chat.completions.create(model="kb:shop", messages=USER)


def test_model_lookup_hides_other_models(gateway: RunningGateway, home: Path) -> None:
    client = client_for(gateway, create_key(home, "echo-lookup", "--model", "echo")["key"])

    assert client.models.retrieve("echo").id == "echo"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("kb:shop")
    message = raised.value.body["message"]
    assert "available models: echo " in message
    assert "kb:shop (" not in message


def test_revoked_key_gets_401(gateway: RunningGateway, home: Path) -> None:
    created = create_key(home, "leaving")
    client = client_for(gateway, created["key"])
    client.models.list()

    revoked = qiao(home, "keys", "revoke", created["id"])
    assert revoked.exit_code == 0, revoked.stderr
    assert f"Revoked API key {created['id']}" in revoked.stdout
    with pytest.raises(openai.AuthenticationError, match=f"API key {created['id']} was revoked"):
        client.chat.completions.create(model="kb:shop", messages=USER)


def test_keys_list_hides_secrets(home: Path) -> None:
    created = create_key(home, "listed", "--kb", "shop")
    listed = qiao(home, "keys", "list", "--json")
    stored = (home / "gateway" / "keys.json").read_text(encoding="utf-8")
    entry = next(item for item in json.loads(listed.stdout) if item["id"] == created["id"])

    assert listed.exit_code == 0
    assert entry == {
        "id": created["id"],
        "name": "listed",
        "created": entry["created"],
        "kbs": ["shop"],
        "models": [],
        "revoked": "",
    }
    assert created["key"] not in listed.stdout
    assert created["key"] not in stored
    assert (home / "gateway" / "keys.json").stat().st_mode & 0o777 == 0o600


def test_revoke_unknown_key_fails(home: Path) -> None:
    result = qiao(home, "keys", "revoke", "feedbeef")

    assert result.exit_code == 1
    assert "API key 'feedbeef' not found" in result.stderr
    assert "qiao keys list" in result.stderr


def test_create_key_prints_it_once(home: Path) -> None:
    result = qiao(home, "keys", "create", "shown")
    lines = result.stdout.splitlines()

    assert result.exit_code == 0
    assert lines[1].startswith("qiao-")
    assert "shown only this once" in result.stdout


def test_audit_log_names_key(gateway: RunningGateway, home: Path) -> None:
    created = create_key(home, "audited")
    client_for(gateway, created["key"]).chat.completions.create(model="kb:shop", messages=USER)
    log = home / "logs" / "gateway-audit.jsonl"
    entry = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])

    assert entry["key_id"] == created["id"]
    assert entry["question"] == "青瓷茶杯多少钱？"
    assert entry["model"] == "kb:shop"
    assert entry["status"] == 200


def test_audit_log_records_rejections(gateway: RunningGateway, home: Path) -> None:
    client = client_for(gateway, create_key(home, "limited", "--kb", "shop")["key"])
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="kb:missing", messages=USER)
    entry = json.loads((home / "logs" / "gateway-audit.jsonl").read_text().splitlines()[-1])

    assert entry["status"] == 403
    assert entry["model"] == "kb:missing"


def test_audit_log_rotates(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "hash", max_bytes=2000, backups=2)
    for number in range(100):
        log.record(
            key_id="k1",
            model="kb:shop",
            question=f"问题{number}",
            status=200,
            latency_ms=1.0,
            cache="off",
            stream=False,
        )
    log.close()
    files = sorted(path.name for path in tmp_path.iterdir())

    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(path.stat().st_size <= 2000 for path in tmp_path.iterdir())
    last = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert "question" not in last
    assert len(last["question_sha256"]) == 64


@pytest.mark.parametrize(
    ("mode", "host", "required"),
    [
        ("auto", "127.0.0.1", False),
        ("auto", "localhost", False),
        ("auto", "::1", False),
        ("auto", "0.0.0.0", True),
        ("auto", "192.168.1.20", True),
        ("on", "127.0.0.1", True),
        ("off", "0.0.0.0", False),
    ],
)
def test_auth_default_follows_host(mode: str, host: str, required: bool) -> None:
    assert auth_required(mode, host) is required


def test_health_hides_queues_without_key(gateway: RunningGateway, home: Path) -> None:
    import httpx

    anonymous = httpx.get(gateway.base_url + "/health").json()
    key = create_key(home, "monitor")["key"]
    signed = httpx.get(
        gateway.base_url + "/health", headers={"Authorization": f"Bearer {key}"}
    ).json()

    assert anonymous["status"] == "ok"
    assert "queues" not in anonymous
    assert signed["queues"]["echo"] == {"running": 0, "waiting": 0}


def test_serve_command_with_auth(tmp_path: Path) -> None:
    """``qiao serve --auth`` in a child process: 401 without a key, 200 with one, clean stop."""
    import os
    import signal
    import socket
    import subprocess

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = create_key(tmp_path, "cli")["key"]
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("QIAO_")},
        "QIAO_HOME": str(tmp_path),
        "QIAO_GENERATOR": "extractive",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    command = "import sys; from qiao.cli.app import main; sys.argv[0] = 'qiao'; main()"
    server = subprocess.Popen(
        [sys.executable, "-c", command, "serve", "--port", str(port), "--auth", "--lang", "en"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "qiao serve did not start"
                time.sleep(0.2)
        anonymous = httpx.get(url + "/v1/models")
        signed = httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
        # The Vearch API is on by default, with its own Basic auth.
        databases = httpx.get(url + "/dbs", auth=("root", "secret"))
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=30)

    assert anonymous.status_code == 401
    assert signed.status_code == 200
    assert databases.json() == {"code": 0, "data": []}
    assert server.returncode == 0, stderr
    assert f"OpenAI-compatible API at {url}/v1" in stdout
    assert "API keys required" in stdout
    assert f"Vearch REST API of vector database {tmp_path / 'vectordb'} at {url}" in " ".join(
        stdout.split()
    )
    assert f"closed vector database {tmp_path / 'vectordb'}" in stderr
    assert "Server stopped." in stdout


def test_serve_reports_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = qiao(tmp_path, "serve", "--port", str(port), "--no-preload")

    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
