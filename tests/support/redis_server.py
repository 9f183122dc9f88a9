"""A real redis-server for tests: Debian's package, on 127.0.0.1 and a free port, no persistence, stopped after.

`./dev test` installs the package when it is missing. Without it these tests FAIL (never skip): scale-out on
Redis is a product feature and CI must prove it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.servers import free_port

REDIS_SERVER = "redis-server"


def redis_server_binary() -> str:
    found = shutil.which(REDIS_SERVER) or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: `./dev test` installs it (as root: apt-get install redis-server); "
            "on another system install Redis 6.2 or newer and run the tests again"
        )
    return found


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Start redis-server on a free loopback port; yields its URL (``redis://127.0.0.1:PORT/0``)."""
    binary = redis_server_binary()
    port = free_port()
    log_file = workdir / f"redis-{port}.log"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(log_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                log = log_file.read_text(errors="replace") if log_file.exists() else ""
                raise RuntimeError(f"redis-server exited with code {proc.returncode}: {log[-2000:]}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
