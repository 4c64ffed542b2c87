"""Start-up with a large knowledge base: time to ``/healthz``, time to ready, peak memory.

Copies the bundled content to a temporary folder, adds ``--entries`` synthetic knowledge entries
(real syllables from the bundled content, in files of 500 entries), starts the real program
(``trolyso run``: web chat on a free port, a fresh SQLite database) and polls ``/healthz``. It
prints the seconds until ``/healthz`` first answers (HTTP 503 ``{"status": "starting"}`` while
the knowledge index builds), until it answers 200 ``{"status": "ready"}``, and the process's peak
resident memory (``VmHWM``). Goal: 10,000 entries reach ``/healthz`` in at most 15 s, using at
most 300 MiB.

    .venv/bin/python bench/startup.py [--entries 10000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content.snapshot import load_snapshot  # noqa: E402
from bot.nlp.normalize import words  # noqa: E402

PER_FILE = 500
GOAL_SECONDS = 15.0
GOAL_MIB = 300.0


def vocabulary() -> list[str]:
    """Every word of the bundled knowledge base, shuffled the same way each run."""
    snapshot = load_snapshot(ROOT / "content")
    found = {
        w for e in snapshot.knowledge for t in (e.title, *e.questions, e.answer) for w in words(t)
    }
    picked = sorted(found)
    random.Random(7).shuffle(picked)
    return picked


def entry(n: int, vocab: list[str], rnd: random.Random) -> dict[str, object]:
    """One synthetic entry: Zipf-distributed words and three words of its own."""
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    own = [f"{rnd.choice(vocab)}{n % 97}x{n}", *rnd.sample(vocab[200:], 3)]

    def sentence(low: int, high: int) -> str:
        picked = rnd.choices(vocab, weights, k=rnd.randint(low, high))
        picked[rnd.randrange(len(picked))] = rnd.choice(own)
        return " ".join(picked)

    return {
        "id": f"synthetic_{n}",
        "group": "basics",
        "title": sentence(3, 6)[:100],
        "questions": [sentence(5, 14)[:250] for _ in range(10)],
        "keywords": own[1:],
        "answer": sentence(30, 60)[:380],
    }


def make_content(folder: Path, entries: int) -> Path:
    """The bundled content plus ``entries`` synthetic entries, in ``folder``/content."""
    content = folder / "content"
    shutil.copytree(ROOT / "content", content)
    vocab = vocabulary()
    rnd = random.Random(11)
    for start in range(0, entries, PER_FILE):
        batch = [entry(n, vocab, rnd) for n in range(start, min(entries, start + PER_FILE))]
        path = content / "knowledge" / f"synthetic_{start // PER_FILE:03d}.yaml"
        path.write_text(
            yaml.safe_dump({"entries": batch}, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return content


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health(port: int) -> str | None:
    """The status ``/healthz`` gives now, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return str(json.load(response).get("status", "ready"))
    except urllib.error.HTTPError as exc:
        return str(json.load(exc).get("status", exc.code))
    except (OSError, ValueError):
        return None


def peak_mib(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_once(folder: Path, timeout: float) -> tuple[float | None, float | None, float]:
    """Seconds to the first ``/healthz`` answer and to ready, and the peak memory in MiB."""
    port = free_port()
    db = folder / f"bench-{port}.db"
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": f"sqlite+aiosqlite:///{db}"},
                "web": {"port": port},
                "content": {"dir": str(folder / "content"), "watch": False},
                "logging": {"level": "WARNING"},
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.pop("DATABASE_URL", None)
    program = ROOT / ".venv" / "bin" / "trolyso"
    started = time.perf_counter()
    process = subprocess.Popen([str(program), "--config", str(config), "run"], env=env)
    first = ready = None
    peak = 0.0
    try:
        while time.perf_counter() - started < timeout and process.poll() is None:
            status = health(port)
            now = time.perf_counter() - started
            peak = max(peak, peak_mib(process.pid))
            if status is not None and first is None:
                first = now
            if status == "ready":
                ready = now
                break
            time.sleep(0.05)
        peak = max(peak, peak_mib(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return first, ready, peak


def main() -> int:
    """Print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = False
    with tempfile.TemporaryDirectory(prefix="trolyso-startup-") as name:
        folder = Path(name)
        made = time.perf_counter()
        make_content(folder, args.entries)
        print(f"{args.entries} synthetic entries written in {time.perf_counter() - made:.1f} s")
        for run in range(1, args.runs + 1):
            first, ready, peak = start_once(folder, args.timeout)
            ok = first is not None and first <= GOAL_SECONDS and peak <= GOAL_MIB
            missed |= not ok
            print(
                f"run {run}: /healthz after {_seconds(first)}, ready after {_seconds(ready)},"
                f" peak RSS {peak:.0f} MiB"
                f"  (goal /healthz <= {GOAL_SECONDS:g} s, <= {GOAL_MIB:g} MiB:"
                f" {'OK' if ok else 'MISSED'})"
            )
    return 1 if missed else 0


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
