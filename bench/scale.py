"""Scale: the team and country-wide queries on a realistic dataset (#19).

Builds N teams x M citizens through the project's own migrations (COPY on PostgreSQL, bulk
INSERTs on SQLite): two staff per team, citizens on Zalo/Telegram/web (97% consented, 1%
unreachable, 0.5% opted out), about 2.5 lesson attempts per citizen (passed, failed, stuck in
the middle, abandoned), their completions, in-person guidance, open and answered team
questions, the question log, and finished broadcasts with their deliveries. Then times every
operation of the issue's table, ``--runs`` times each, printing min / median / max ms and the
peak memory the operation added (the process's high-water mark is reset before each one).

    .venv/bin/python bench/scale.py [--database-url URL] [--teams 5000]
        [--citizens-per-team 200] [--runs 3] [--rebuild] [--only NAME ...]

The default URL is the local PostgreSQL database ``trolyso_scale`` (created when missing). A
dataset of the same size already there is reused unless ``--rebuild``. On SQLite use e.g.
``--database-url sqlite+aiosqlite:////tmp/scale.db --teams 500``.

Exit status 1 when a goal is missed. To time another view (the dashboard's team and commune
views, say), add an ``Operation`` to ``operations()``: a name, an async callable of the
``Bench`` and the goal in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bot.config import Config, ContentConfig, DatabaseConfig  # noqa: E402
from bot.content.snapshot import Snapshot, load_snapshot  # noqa: E402
from storage.db import Database, normalise_url  # noqa: E402
from storage.models import Team, User  # noqa: E402
from tests.scale_dataset import NOW, Shape, fill  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/trolyso_scale"


async def _stored_shape(db: Database) -> str | None:
    """The label of the dataset already in the database, if any."""
    async with db.transaction() as session:
        try:
            return await session.scalar(select(Team.name).where(Team.code == "SCALEKEY"))
        except Exception:
            return None


def _remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


async def _fresh_database(url: str) -> None:
    """Create the PostgreSQL database when missing (empty the SQLite file otherwise)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            _remove_sqlite(parsed.database)
        return
    import asyncpg

    admin = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


async def build(url: str, shape: Shape, snapshot: Snapshot, rebuild: bool) -> None:
    """Make sure the database holds the dataset of ``shape`` (reusing one already built)."""
    from storage.migrate import upgrade

    if not rebuild:
        with contextlib.suppress(Exception):
            db = Database(url)
            try:
                if await _stored_shape(db) == shape.key():
                    print(f"dataset {shape.key()} already built; reusing it (--rebuild to redo)")
                    await upgrade(url)
                    return
            finally:
                await db.dispose()
    started = time.monotonic()
    await _fresh_database(url)
    await upgrade(url)
    db = Database(url)
    try:
        counts = await fill(
            db,
            shape,
            snapshot,
            lambda n: print(f"  {n} teams written ({time.monotonic() - started:.0f}s)", flush=True),
        )
        async with db.engine.connect() as conn:
            if db.is_sqlite:
                await conn.execute(text("ANALYZE"))
            else:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
        async with db.transaction() as session:  # last: an interrupted build is not reused
            session.add(Team(name=shape.key(), commune="~", village="~", code="SCALEKEY"))
        summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
        print(f"dataset built in {time.monotonic() - started:.0f}s: {summary}")
    finally:
        await db.dispose()


# --- the operations ------------------------------------------------------------------------


@dataclass
class Bench:
    """What an operation needs: the database, the content, a team to look at."""

    url: str
    config: Config
    snapshot: Snapshot
    db: Database
    team: Team
    citizen_ids: list[int] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def session(self) -> Any:
        """A read transaction."""
        async with self.db.transaction() as session:
            yield session


@dataclass(frozen=True)
class Operation:
    """One row of the table: what is timed and its goal."""

    name: str
    run: Callable[[Bench], Awaitable[Any]]
    goal_ms: float


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def _cli(handler: Callable[[Config, argparse.Namespace], int], **args: Any) -> Callable[..., Any]:
    """A CLI command (it runs its own event loop, so in a thread), its output discarded."""

    async def run(b: Bench) -> None:
        def call() -> None:
            with _quiet():
                code = handler(b.config, argparse.Namespace(**args))
            if code:
                raise RuntimeError(f"{handler.__name__} exited with {code}")

        await asyncio.to_thread(call)

    return run


async def _team_report(b: Bench) -> None:
    from bot.reports.build import build_report

    async with b.session() as s:
        await build_report(s, b.snapshot, b.team, NOW, b.config.teams.stuck_days)


async def _stuck_team(b: Bench) -> None:
    from storage.repos.lessons import LessonRepo

    async with b.session() as s:
        await LessonRepo(s).stuck(NOW, b.team.id)


async def _stuck_all(b: Bench) -> None:
    from storage.repos.lessons import LessonRepo

    async with b.session() as s:
        async for _ in LessonRepo(s).stream_stuck(NOW):
            pass


async def _sizes(b: Bench) -> None:
    from storage.repos.teams import TeamRepo

    async with b.session() as s:
        await TeamRepo(s).sizes()


async def _count_all(b: Bench) -> None:
    from storage.repos.broadcasts import Audience, BroadcastRepo

    async with b.session() as s:
        await BroadcastRepo(s).count(Audience(team_id=None))


async def _one_team(b: Bench) -> None:
    from storage.repos.teams import ProgressRepo, QuestionRepo, TeamRepo

    async with b.session() as s:
        await TeamRepo(s).citizens(b.team.id)
        await ProgressRepo(s).records(b.team.id)
        await QuestionRepo(s).open(b.team.id)


async def _dashboard_team(b: Bench) -> None:
    """The dashboard's team overview: the report, the chart and the rendered page."""
    from bot.dashboard.views import overview_html

    async with b.session() as s:
        await overview_html(s, b.snapshot, [b.team], b.team, NOW, b.config.teams.stuck_days)


async def _dashboard_commune(b: Bench) -> None:
    """The dashboard's commune overview: every team of the commune, per village."""
    from bot.dashboard.views import overview_html
    from storage.repos.teams import TeamRepo

    async with b.session() as s:
        teams = await TeamRepo(s).in_commune(b.team.commune)
        await overview_html(s, b.snapshot, teams, None, NOW, b.config.teams.stuck_days)


def operations() -> list[Operation]:
    """Every timed operation, in the issue's order (add dashboard views here)."""
    from bot.commands.broadcast import create_command
    from bot.commands.team import list_command, report_command

    return [
        Operation("team report (report --team)", _team_report, 200),
        Operation("LessonRepo.stuck, one team", _stuck_team, 50),
        Operation("LessonRepo.stuck, everyone", _stuck_all, 30_000),
        Operation(
            "trolyso report --all",
            _cli(report_command, team=None, all=True, csv=None),
            60_000,
        ),
        Operation("TeamRepo.sizes", _sizes, 300),
        Operation("BroadcastRepo.count, everyone", _count_all, 2_000),
        Operation("one team's citizens, records, questions", _one_team, 50),
        Operation("trolyso team list", _cli(list_command), 500),
        Operation("dashboard: team overview", _dashboard_team, 200),
        Operation("dashboard: commune overview", _dashboard_commune, 500),
        Operation(
            "broadcast create --all --dry-run",
            _cli(
                create_command,
                team=None,
                all=True,
                lesson=None,
                text="Thông báo thử",
                only_missing=False,
                at=None,
                dry_run=True,
            ),
            2_000,
        ),
    ]


def _peak_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    return float("nan")


def _rss_mib() -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024
    return float("nan")


async def measure(
    bench: Bench, ops: Sequence[Operation], runs: int, limit: float
) -> list[tuple[Operation, list[float], float, str]]:
    """Time each operation ``runs`` times (fewer when one run takes over ``limit`` seconds)."""
    results = []
    for op in ops:
        times: list[float] = []
        added = 0.0
        error = ""
        for _ in range(runs):
            base = _rss_mib()
            _peak_reset()
            started = time.perf_counter()
            try:
                await op.run(bench)
            except Exception as exc:
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                break
            times.append((time.perf_counter() - started) * 1000)
            added = max(added, _peak_mib() - base)
            if times[-1] > limit * 1000:
                break
        results.append((op, times, added, error))
        _report_line(op, times, added, error)
    return results


def _report_line(op: Operation, times: list[float], added: float, error: str) -> None:
    if error:
        print(f"{op.name:<42} FAILED: {error}", flush=True)
        return
    lo, mid, hi = min(times), statistics.median(times), max(times)
    verdict = "ok" if mid <= op.goal_ms else "MISSED"
    print(
        f"{op.name:<42} {lo:>9.1f} {mid:>9.1f} {hi:>9.1f}  {op.goal_ms:>8.0f}  "
        f"{added:>7.0f}  {verdict} (n={len(times)})",
        flush=True,
    )


async def main(argv: Sequence[str] | None = None) -> int:
    """Build (or reuse) the dataset and time every operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--teams", type=int, default=5000)
    parser.add_argument("--citizens-per-team", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=120.0, help="stop repeating after this")
    parser.add_argument("--rebuild", action="store_true", help="build the dataset again")
    parser.add_argument("--only", nargs="*", default=(), help="operations whose name has this")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    content = ROOT / "content"
    snapshot = load_snapshot(content)
    shape = Shape(args.teams, args.citizens_per_team)
    await build(args.database_url, shape, snapshot, args.rebuild)
    config = Config(
        database=DatabaseConfig(url=args.database_url),
        content=ContentConfig(dir=str(content), watch=False),
        base_dir=ROOT,
    )
    db = Database(args.database_url)
    try:
        async with db.transaction() as session:
            team = await session.scalar(select(Team).where(Team.code == f"T{args.teams // 2:07d}"))
            assert team is not None, "the dataset has no middle team"
            session.expunge(team)
            from storage.models import TeamMembership

            ids = (
                await session.execute(
                    select(User.id)
                    .join(TeamMembership, TeamMembership.user_id == User.id)
                    .where(TeamMembership.team_id == team.id, User.role == "citizen")
                )
            ).scalars()
            citizen_ids = list(ids)
            users = await session.scalar(select(func.count()).select_from(User))
        bench = Bench(args.database_url, config, snapshot, db, team, citizen_ids)
        ops = [o for o in operations() if not args.only or any(w in o.name for w in args.only)]
        print(
            f"\n{db.url.get_backend_name()}: {args.teams} teams x {args.citizens_per_team} "
            f"citizens ({users:,} users); {args.runs} runs each"
        )
        print(
            f"{'operation':<42} {'min ms':>9} {'median':>9} {'max ms':>9}  {'goal ms':>8}  "
            f"{'+MiB':>7}"
        )
        results = await measure(bench, ops, args.runs, args.limit)
    finally:
        await db.dispose()
    print(f"load average: {_loadavg()} (2 cores shared with other agents)")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"name": op.name, "ms": times, "added_mib": added, "error": error}
                    for op, times, added, error in results
                ],
                indent=1,
            )
        )
    missed = [
        op.name
        for op, times, _, error in results
        if error or not times or statistics.median(times) > op.goal_ms
    ]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
