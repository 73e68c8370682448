"""Throwaway PostgreSQL, Redis and HAProxy servers on 127.0.0.1 for the several-replica tests.

Each runs in the foreground as a child of the test (PostgreSQL under `pg_ctl`, as the postgres
user: it refuses root) with its files in a temporary folder, and is stopped by its PID. A
missing binary is an error that says how to install it, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name: str, package: str, extra: str = "") -> str:
    """The path of a server binary; Debian keeps PostgreSQL's under /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if not found and extra:
        found = next(iter(sorted(glob.glob(extra), reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} is not installed: `make test` installs Debian's {package} "
                           f"(apt-get install {package})")
    return found


def wait_for_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Postgres:
    """initdb + pg_ctl as the postgres user, in a folder that user can read (pytest's own tmp
    folder sits under a mode-700 root folder, so it cannot)."""

    def __init__(self):
        self.initdb = binary("initdb", "postgresql", "/usr/lib/postgresql/*/bin/initdb")
        self.pg_ctl = str(Path(self.initdb).with_name("pg_ctl"))
        self.dir = Path(tempfile.mkdtemp(prefix="rolebot-pg-", dir="/var/tmp"))
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(self.initdb, "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "--no-sync")

    def _as_postgres(self, *args: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        self._as_postgres(self.pg_ctl, "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres(self.pg_ctl, "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def pid(self) -> int | None:
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        pid = self.pid()
        if pid is not None:
            try:
                self.stop()
            except RuntimeError:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


class Redis:
    def __init__(self, folder: Path):
        self.exe = binary("redis-server", "redis-server", "/usr/bin/redis-server")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        stop(self.proc)


class HAProxy:
    """HAProxy in the foreground (-db) on a configuration whose addresses come from `env`."""

    def __init__(self, config: str, folder: Path, port: int, env: dict | None = None):
        exe = binary("haproxy", "haproxy", "/usr/sbin/haproxy")
        cfg = folder / "haproxy.cfg"
        cfg.write_text(config)
        checked = subprocess.run([exe, "-c", "-f", str(cfg)], capture_output=True, text=True, env=env)
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy rejected the configuration: {checked.stdout}{checked.stderr}")
        self.log = folder / "haproxy.log"
        self.proc = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     env=env)
        wait_for_port(port, self.proc, "haproxy")
