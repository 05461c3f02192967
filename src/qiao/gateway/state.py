"""Everything a running gateway shares between requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from qiao.config import Settings
from qiao.gateway.audit import AuditLog
from qiao.gateway.keys import KeyStore
from qiao.gateway.models import ModelCatalog

__all__ = ["GatewayState"]

logger = logging.getLogger(__name__)


class GatewayState:
    """Models, keys, audit log and background work of one gateway app."""

    def __init__(self, settings: Settings, auth: bool) -> None:
        self.settings = settings
        self.auth = auth
        self.catalog = ModelCatalog(settings)
        self.keys = KeyStore(settings.home)
        gateway = settings.gateway
        self.audit = (
            AuditLog(
                settings.home / "logs" / "gateway-audit.jsonl",
                gateway.audit_question,
                gateway.audit_max_bytes,
                gateway.audit_backups,
            )
            if gateway.audit
            else None
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False

    def run_in_background(self, work: Callable[[], None]) -> None:
        """Run blocking ``work`` in a thread after the response; failures are logged."""
        task = asyncio.get_running_loop().create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Callable[[], None]) -> None:
        try:
            await asyncio.to_thread(work)
        except Exception:
            logger.exception("background work failed")

    async def begin_shutdown(self) -> None:
        """Reject new and waiting requests with 503; requests already generating finish."""
        if self.shutting_down:
            return
        self.shutting_down = True
        logger.info("gateway shutting down: rejecting new requests")
        for queue in self.catalog.queues():
            await queue.close()

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.catalog.close()
        if self.audit is not None:
            self.audit.close()
        logger.info("gateway stopped")
