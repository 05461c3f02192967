"""``qiao keys``: create, list and revoke the gateway's API keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from qiao.cli.common import HomeOption, JsonOption, LangOption, console, setup, t
from qiao.gateway.keys import KeyStore

__all__ = ["app"]

app = typer.Typer(
    help="Manage API keys of qiao serve. / 管理 qiao serve 的 API 密钥。", no_args_is_help=True
)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A label for who uses the key, such as web-app.")],
    kb: Annotated[
        list[str] | None,
        typer.Option("--kb", help="Limit the key to this knowledge base (repeatable)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Limit the key to this model (repeatable)."),
    ] = None,
    home: HomeOption = None,
    lang: LangOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; the key is shown only once."""
    settings = setup(home, lang)
    record, secret = KeyStore(settings.home).create(name, kb or [], model or [])
    if as_json:
        print(json.dumps({"id": record.id, "key": secret}))
        return
    console.print(t("key_created", id=record.id, name=record.name))
    print(secret)
    console.print(t("key_shown_once"), style="yellow")


@app.command("list")
def list_(home: HomeOption = None, lang: LangOption = None, as_json: JsonOption = False) -> None:
    """List API keys (never the keys themselves)."""
    settings = setup(home, lang)
    keys = KeyStore(settings.home).list_keys()
    if as_json:
        print(json.dumps([key.public_json() for key in keys], ensure_ascii=False))
        return
    if not keys:
        console.print(t("key_none"))
        return
    table = Table("ID", t("col_name"), t("col_created"), t("col_limits"), t("col_status"))
    for key in keys:
        limits = ", ".join([f"kb:{name}" for name in key.kbs] + key.models) or t("key_no_limits")
        status = t("key_revoked", time=key.revoked) if key.revoked else t("key_active")
        table.add_row(key.id, key.name, key.created, limits, status)
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by 'qiao keys list'.")],
    home: HomeOption = None,
    lang: LangOption = None,
) -> None:
    """Revoke an API key; a running server rejects it from the next request on."""
    settings = setup(home, lang)
    record = KeyStore(settings.home).revoke(key_id)
    console.print(t("key_revoked_now", id=record.id, name=record.name))
