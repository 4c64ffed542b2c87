"""The composition root: config in, a running bot out. The only place that wires things."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.files import file_routes
from bot.config import Config, ConfigError
from bot.content.store import ContentStore
from bot.core import files
from bot.core.admin_alerts import ContentAlerts
from bot.core.delivery import Delivery
from bot.core.dispatcher import Dispatcher
from bot.core.gateway import Gateway
from bot.core.housekeeping import housekeeping
from bot.core.router import Routes
from bot.core.services import Services
from handlers import all_routers
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything the bot runs: database, content, dispatcher, channels and the HTTP server.

    ``core`` is the core as channels see it (``bot.core.ports.Core``): build channels with it.
    """

    config: Config
    db: Database
    store: ContentStore
    services: Services
    dispatcher: Dispatcher
    core: Gateway
    channels: dict[str, Channel] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    loading: asyncio.Task[None] | None = None  # the content, when start-up defers it

    def web_app(self) -> web.Application:
        """The aiohttp application with every channel's routes and the health check."""
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_routes(file_routes(self.core))
        for channel in self.channels.values():
            app.router.add_routes(channel.routes())
        if self.config.web.enabled:
            from bot.dashboard.app import PREFIX, dashboard_app

            app.add_subapp(PREFIX, dashboard_app(self.services))
        return app

    async def start(self, *, serve_http: bool = True) -> None:
        """Start the HTTP server (when needed), the channels and the content watcher."""
        if serve_http and self.needs_http():
            self.runner = web.AppRunner(self.web_app(), access_log=None)
            await self.runner.setup()
            host, port = self.config.web.host, self.config.web.port
            try:
                await web.TCPSite(self.runner, host, port).start()
            except OSError as exc:  # the port is taken, or the host is not this machine's
                await self.runner.cleanup()
                self.runner = None
                raise ConfigError(
                    f"config: web.port {port} on web.host {host} cannot be used"
                    f" ({exc.strerror or exc}); stop the program using it"
                    " or choose another web.port"
                ) from None
            log.info("serving http://%s:%s", self.config.web.host, self.config.web.port)
        for channel in self.channels.values():
            await channel.start()
            log.info("channel %s started", channel.name)
        if self.store.ready:
            self.start_workers()
        else:
            self.loading = asyncio.create_task(self.load_content(), name="content")

    async def load_content(self) -> None:
        """Load the whole content off the event loop, then start what needs it."""
        await self.store.open()
        self.start_workers()
        log.info("ready")

    def start_workers(self) -> None:
        """Housekeeping, the broadcast worker (and beside it, on its lanes, the nudge worker)
        and the content watcher."""
        self.tasks.append(
            asyncio.create_task(
                housekeeping(self.db, self.config.retention, files.folder(self.config))
            )
        )
        if self.config.broadcast.enabled:
            from bot.broadcast.nudges import NudgeWorker
            from bot.broadcast.worker import BroadcastWorker

            worker = BroadcastWorker(self.services, self.channels)
            self.tasks.append(asyncio.create_task(worker.run()))
            if self.config.nudges.enabled:
                nudges = NudgeWorker(self.services, self.channels, lanes=worker)
                self.tasks.append(asyncio.create_task(nudges.run()))
        if self.config.content.watch:
            self.tasks.append(
                asyncio.create_task(self.store.watch(self.config.content.watch_interval))
            )

    def needs_http(self) -> bool:
        """Whether any channel serves HTTP routes."""
        if self.config.web.enabled:  # the dashboard
            return True
        return any(channel.routes() for channel in self.channels.values())

    async def healthz(self, request: web.Request) -> web.Response:
        """Readiness: 200 ``ready``, or 503 ``starting`` while the content loads."""
        if self.store.ready:
            return web.json_response({"ok": True, "status": "ready"})
        return web.json_response({"ok": False, "status": "starting"}, status=503)

    async def stop(self) -> None:
        """Stop everything in reverse order."""
        if self.loading is not None:
            self.loading.cancel()
            await asyncio.gather(self.loading, return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for channel in reversed(list(self.channels.values())):
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s failed to stop cleanly", channel.name)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.db.dispose()


def build_app(config: Config, *, db: Database | None = None, deferred: bool = False) -> App:
    """Wire the bot from its configuration; ``deferred``: load the content after ``start()``."""
    db = db or Database(config.database.url)
    store = ContentStore(config.path(config.content.dir), deferred=deferred)
    services = Services(config=config, store=store, db=db)
    dispatcher = Dispatcher(Routes(all_routers()), services)
    core = Gateway(dispatcher, services)
    app = App(
        config=config, db=db, store=store, services=services, dispatcher=dispatcher, core=core
    )
    add_channels(app)
    services.deliver = Delivery(db, app.channels)
    store.listeners.append(ContentAlerts(services))
    return app


def add_channels(app: App) -> None:
    """The channels this configuration turns on: web chat, and each messenger with a token."""
    config = app.config
    if config.web.enabled:
        from bot.channels.web import WebChannel

        app.channels["web"] = WebChannel(app.core)
    if config.secrets.telegram_token:
        from bot.channels.telegram import TelegramChannel

        app.channels["telegram"] = TelegramChannel.from_config(app.core, config)
    if config.secrets.zalo_token:
        from bot.channels.zalo import ZaloChannel

        app.channels["zalo"] = ZaloChannel.from_config(app.core, config)
    if config.secrets.zalo_oa_app_id:
        from bot.channels.zalo_oa.channel import ZaloOAChannel
        from bot.zalo_oa import accounts_from_config

        accounts = accounts_from_config(config, app.db)
        app.channels["zalo_oa"] = ZaloOAChannel.from_config(app.core, config, accounts)
