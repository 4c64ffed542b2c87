"""A bot process that refreshes one OA's token at a given moment, for the single-flight test.

``python -m tests.zalo_oa_refresh_child DB_URL FAKE_URL OA_ID SEEN_VERSION START_AT`` waits
until the wall clock reaches START_AT (so two processes start together), refreshes through
``bot.zalo_oa.Accounts`` and prints the token version it ended with (never the token).
"""

from __future__ import annotations

import asyncio
import sys
import time

from bot.channels.zalo_oa.api import OAClient
from bot.zalo_oa import Accounts
from storage.db import Database
from tests.fake_zalo_oa import APP_ID, APP_SECRET, TOKEN_KEY


async def main(url: str, fake: str, oa_id: str, seen: int, start_at: float) -> None:
    db = Database(url)
    client = OAClient(fake, fake, APP_ID, APP_SECRET)
    accounts = Accounts(db, client, TOKEN_KEY)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    try:
        access = await accounts.refresh(oa_id, seen)
        print(f"version={access.version} refreshed={accounts.refreshes}", flush=True)
    finally:
        await client.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
