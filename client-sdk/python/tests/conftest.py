"""Shared fixtures: real HTTP servers on port 0, a small HTTP client, and PostgreSQL."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from typing import Iterable, Optional, Union
from urllib.parse import urlsplit

import pytest

# The source tree is tested, whether or not the package is installed.
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
sys.path.insert(0, SRC)

from backup_contract import make_server  # noqa: E402

TOKEN = "test-token-0123456789"
IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """Skips the test with ``reason``; under ``CI=true`` fails it instead, since CI installs
    everything the tests need."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped)")
    pytest.skip(reason)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wrong(sha: str) -> str:
    """A different sha256 of the same shape."""
    return ("1" if sha[0] == "0" else "0") + sha[1:]


class Client:
    """A minimal contract client over ``http.client``: one connection per call."""

    def __init__(self, url: str, token: Optional[str] = TOKEN) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.token = token

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def headers(self, token: Optional[str] = "default", **extra) -> dict:
        headers = {k.replace("_", "-"): v for k, v in extra.items()}
        token = self.token if token == "default" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def request(self, method: str, path: str, body=None, headers: Optional[dict] = None):
        """Sends a request; returns the response (unread) and its connection."""
        conn = self.connect()
        chunked = body is not None and not isinstance(body, (bytes, str))
        headers = self.headers() if headers is None else headers
        conn.request(method, self.prefix + path, body=body, headers=headers, encode_chunked=chunked)
        return conn.getresponse()

    def json(self, method: str, path: str, body=None, headers: Optional[dict] = None):
        """Status and decoded JSON of a small answer."""
        resp = self.request(method, path, body, headers)
        data = resp.read()
        return resp.status, json.loads(data) if data else None

    def capabilities(self):
        return self.json("GET", "/backup/capabilities")

    def export(self, backup_type: Optional[str] = None, headers: Optional[dict] = None):
        """The unread export response."""
        body = json.dumps({"type": backup_type}) if backup_type else b""
        hdrs = self.headers(Content_Type="application/json") if headers is None else headers
        return self.request("POST", "/backup/export", body, hdrs)

    def export_bytes(self, backup_type: Optional[str] = None) -> bytes:
        """A whole export; fails the test unless it answered 200 and ended cleanly."""
        resp = self.export(backup_type)
        data = resp.read()
        assert resp.status == 200, data
        assert resp.getheader("Transfer-Encoding") == "chunked" or resp.getheader("Content-Length")
        return data

    def send_copy(
        self,
        route: str,
        backup_type: str,
        sha: str,
        body: Union[bytes, Iterable[bytes]],
        token: Optional[str] = "default",
    ):
        """Status and JSON of an import or verify; an iterable body is sent chunked."""
        if isinstance(body, bytes):
            body = iter([body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""])
        headers = self.headers(token, Backup_Type=backup_type, Backup_Sha256=sha,
                               Content_Type="application/octet-stream")
        return self.json("POST", route, body, headers)

    def import_(self, backup_type: str, sha: str, body, **kw):
        return self.send_copy("/backup/import", backup_type, sha, body, **kw)

    def verify(self, backup_type: str, sha: str, body, **kw):
        return self.send_copy("/backup/verify", backup_type, sha, body, **kw)


def assert_an_export_right_after_a_dropped_one_is_served(client: Client, rounds: int = 20) -> None:
    """What the conformance kit does: a second export while one runs (refused or served), the
    first dropped unread, then at once another export, which must be served: the slot of the
    dropped one is freed, or waited for, never refused."""
    request = f"POST /backup/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n" \
              "Content-Length: 0\r\n\r\n"

    def status(sock) -> int:
        return int(sock.makefile("rb").readline().split()[1])

    for _ in range(rounds):
        with socket.create_connection((client.host, client.port), timeout=30) as first:
            first.sendall(request.encode())
            assert status(first) == 200
            with socket.create_connection((client.host, client.port), timeout=30) as second:
                second.sendall(request.encode())
                assert status(second) in (200, 409)
        with socket.create_connection((client.host, client.port), timeout=30) as third:
            third.sendall(request.encode())
            assert status(third) == 200, "the slot of a dropped export was not freed in time"


@pytest.fixture
def serve():
    """Serves a WSGI app with the package's own server on port 0; returns a :class:`Client`."""
    servers = []

    def start(app, token: Optional[str] = TOKEN) -> Client:
        server = make_server(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Client(server.url, token)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def serve_flask():
    """Serves a Flask app with werkzeug's threaded (HTTP/1.1) server on port 0."""
    try:
        from werkzeug.serving import make_server as werkzeug_server
    except ImportError:
        skip_or_fail("Flask is not installed (pip install flask)")
    servers = []

    def start(app) -> Client:
        server = werkzeug_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Client(f"http://127.0.0.1:{server.port}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Postgres:
    """The test PostgreSQL server, reached through libpq's variables."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.env = {**os.environ, "PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432)}
        if parts.username:
            self.env["PGUSER"] = parts.username
        if parts.password:
            self.env["PGPASSWORD"] = parts.password
        self.admin_db = parts.path.lstrip("/") or "postgres"

    def psql(self, database: Optional[str], sql: str) -> str:
        out = subprocess.run(
            ["psql", "--no-password", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-Atc", sql,
             "--dbname", database or self.admin_db],
            env=self.env, capture_output=True, text=True, timeout=60,
        )
        if out.returncode != 0:
            raise AssertionError(f"psql {sql!r} failed: {out.stderr}")
        return out.stdout

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.psql(None, f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.psql(None, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The server of ``TEST_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432/test``);
    skipped with the reason when it cannot be reached, except under ``CI=true``."""
    url = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    pg = Postgres(url)
    try:
        pg.psql(None, "SELECT 1")
        for tool in ("pg_dump", "pg_restore"):
            subprocess.run([tool, "--version"], capture_output=True, check=True)
    except (OSError, subprocess.SubprocessError, AssertionError) as e:
        skip_or_fail(f"PostgreSQL at {url} is not usable ({str(e).strip()[:200]}); set TEST_POSTGRES_URL")
    return pg


@pytest.fixture
def database(postgres):
    """A fresh, empty database, dropped afterwards."""
    name = postgres.create_database("pysdk")
    yield name
    postgres.drop_database(name)
