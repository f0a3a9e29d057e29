"""A throwaway PostgreSQL server for tests and the benchmark, from the Debian server binaries.

PostgreSQL refuses to run as root, so when the tests run as root the cluster is owned by and run as
the `postgres` OS user. Password authentication over TCP is on (scram-sha-256), so the services
connect with the credentials file exactly as they do in a cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from support.ports import free_port

# Debian and Ubuntu install each major version under its own folder (Debian 12: 15, Ubuntu 24.04: 16).
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "superuser-secret"


def find_bin(debian_root: Path = DEBIAN_ROOT) -> Path | None:
    """The folder holding initdb and pg_ctl (the newest major version installed), or None."""
    installed = [d / "bin" for d in debian_root.glob("*") if (d / "bin" / "pg_ctl").exists()]
    installed = [d for d in installed if (d / "initdb").exists()]
    if installed:
        return max(installed, key=lambda d: tuple(int(p) for p in d.parent.name.split(".") if p.isdigit()))
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


@dataclass
class Database:
    """One database with its own login role, and the credentials file the services read."""

    host: str
    port: int
    name: str
    user: str
    password: str
    credentials_file: Path

    def conninfo(self) -> str:
        return (
            f"host={self.host} port={self.port} dbname={self.name} user={self.user} password={self.password}"
        )

    def service_env(self) -> dict[str, str]:
        return {
            "DB_HOST": self.host,
            "DB_PORT": str(self.port),
            "DB_NAME": self.name,
            "DB_SSLMODE": "disable",
            "DB_CREDENTIALS_FILE": str(self.credentials_file),
        }

    def rotate_password(self, server: PostgresServer, new_password: str) -> None:
        """Change the role's password and rewrite the credentials file, as Vault would."""
        with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(self.user), psycopg.sql.Literal(new_password)
                )
            )
        self.password = new_password
        write_credentials(self.credentials_file, self.user, new_password)


def write_credentials(path: Path, user: str, password: str) -> None:
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"username": user, "password": password}), encoding="utf-8")
    scratch.replace(path)  # atomic, as Vault's agent renders files


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.port = free_port()
        # Under /tmp itself, not pytest's per-user folder: the postgres user must reach the path.
        self.root = Path(tempfile.mkdtemp(prefix="meridian-pg-"))
        self.data_dir = self.root / "data"
        self._run_as = self._os_user()
        self._counter = 0

    @staticmethod
    def _os_user() -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["runuser", "-u", "postgres", "--"]

    def _chown(self, path: Path) -> None:
        if self._run_as:
            shutil.chown(path, user="postgres", group="postgres")

    def _pg(self, *args: str) -> None:
        result = subprocess.run([*self._run_as, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        self._chown(self.root)
        pwfile = self.root / "superuser-password"
        pwfile.write_text(SUPERUSER_PASSWORD, encoding="utf-8")
        self._chown(pwfile)
        self._pg(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after halt()) on the same port with the same data."""
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        log_file = self.root / "server.log"
        self._pg(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(log_file),
            "-o",
            options,
            "-w",
            "start",
        )

    def halt(self) -> None:
        """Stop the server as an operator would (fast shutdown: sessions end with admin_shutdown),
        keeping its data, so tests can see what the services do while the database is down."""
        self._pg(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._pg(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} dbname={dbname}"
            f" user={SUPERUSER} password={SUPERUSER_PASSWORD}"
        )

    def create_database(self, prefix: str, secrets_dir: Path) -> Database:
        """A fresh database owned by a fresh role, so tests never see each other's rows."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        password = f"pw-{name}"
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Literal(password)
                )
            )
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Identifier(name)
                )
            )
        secrets_dir.mkdir(parents=True, exist_ok=True)
        credentials_file = secrets_dir / f"{name}.json"
        write_credentials(credentials_file, name, password)
        return Database(self.host, self.port, name, name, password, credentials_file)


def fail_first_inserts(conninfo: str, table: str, sqlstate: str, times: int) -> None:
    """Make PostgreSQL itself fail the first `times` inserts into table with sqlstate (as it fails
    a transaction that lost a conflict: serialization_failure, deadlock_detected); a sequence
    counts the attempts across the rollbacks. conninfo must be a superuser's."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL(
                """CREATE SEQUENCE insert_attempts;
                CREATE FUNCTION fail_first_inserts() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
                BEGIN
                    IF nextval('insert_attempts') <= {times} THEN
                        RAISE EXCEPTION 'failed on purpose' USING ERRCODE = {sqlstate};
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER fail_first_inserts BEFORE INSERT ON {table}
                    FOR EACH ROW EXECUTE FUNCTION fail_first_inserts()"""
            ).format(
                times=psycopg.sql.Literal(times),
                sqlstate=psycopg.sql.Literal(sqlstate),
                table=psycopg.sql.Identifier(table),
            )
        )


@contextlib.contextmanager
def running(bin_dir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
