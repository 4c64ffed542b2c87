"""A bot process that only delivers broadcasts, for the kill -9 test.

``python -m tests.broadcast_child DB_URL CONTENT_DIR LOG_FILE RATE [LEASE]``: the fake platform
"delivers" a message by appending the citizen's id and the time to LOG_FILE (the kernel keeps
what was written when the process is killed), after a short network-like wait. LOG_FILE.ready
appears once the bot is started and connected.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import text

from bot.channels.base import Channel
from bot.channels.memory import RICH
from bot.config import BroadcastRates, Config, ContentConfig, DatabaseConfig
from bot.content.store import ContentStore
from bot.core.replies import Reply
from bot.core.services import Services
from storage.db import Database
from tests.broadcast_helpers import CHANNEL, fast_config


class FileChannel(Channel):
    """Appends each recipient's id to a file: the record of what the platform received."""

    def __init__(self, path: str) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.name = CHANNEL
        self.capabilities = RICH
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        await asyncio.sleep(0.003)
        os.write(self.fd, f"{external_id} {time.time():.4f}\n".encode())


async def main(url: str, content: str, log: str, rate: float, lease: float) -> None:
    config = Config(
        database=DatabaseConfig(url=url), content=ContentConfig(dir=content, watch=False)
    )
    # Deliveries need only the messages (the lesson button's label): no knowledge index.
    store = ContentStore(config.path(content), deferred=True)
    services = Services(config=config, store=store, db=Database(url))
    from bot.broadcast.worker import BroadcastWorker

    broadcast = replace(
        fast_config(),
        rate_per_second=BroadcastRates(other=rate),
        lease_seconds=lease,
        poll_interval=0.2,  # idle polls (3 transactions) take CPU the other bot needs
    )
    worker = BroadcastWorker(services, {CHANNEL: FileChannel(log)}, config=broadcast)
    async with services.db.transaction() as session:  # connected, then ready
        await session.execute(text("SELECT 1"))
    os.close(os.open(f"{log}.ready", os.O_WRONLY | os.O_CREAT, 0o644))
    await worker.run()


if __name__ == "__main__":
    lease = float(sys.argv[5]) if len(sys.argv) > 5 else fast_config().lease_seconds
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), lease))
