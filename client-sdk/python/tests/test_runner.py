"""``python -m backup_contract`` as its own process: what it prints, where its token comes from,
how it stops, and that its memory stays bounded whatever the size of a backup."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import SRC, TOKEN, Client


def start(*args, env=None, token=TOKEN):
    """The runner started with ``args``; returns the process and a client for it."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_TOKEN")}
    environ.update({"PYTHONPATH": SRC, "LOG": "warn", **(env or {})})
    if token is not None:
        environ["BACKUP_TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, "-m", "backup_contract", "--listen", "127.0.0.1:0", *args],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    line = proc.stdout.readline().decode().strip()
    assert line.startswith("listening on http://127.0.0.1:"), (line, proc.stderr.read() if not line else "")
    return proc, Client(line.removeprefix("listening on "))


@pytest.fixture
def runner():
    procs = []

    def run(*args, **kw):
        proc, client = start(*args, **kw)
        procs.append(proc)
        return proc, client

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def test_it_says_where_it_listens_first_and_serves_a_folder(runner, tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    _, client = runner("--directory", str(tmp_path), "--app", "notes")
    status, caps = client.capabilities()
    assert status == 200 and caps["app"] == "notes" and caps["types"][0]["name"] == "full"
    assert client.export_bytes()[:2] == b"\x1f\x8b"


def test_the_token_can_come_from_a_file(runner, tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    _, client = runner("--export", "echo hi", token=None, env={"BACKUP_TOKEN_FILE": str(path)})
    assert client.export_bytes() == b"hi\n"


def test_without_a_token_it_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_TOKEN")}
    out = subprocess.run(
        [sys.executable, "-m", "backup_contract", "--listen", "127.0.0.1:0", "--export", "echo hi"],
        env={**env, "PYTHONPATH": SRC}, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert "BACKUP_TOKEN" in out.stderr


def test_a_missing_folder_is_a_usage_error():
    out = subprocess.run(
        [sys.executable, "-m", "backup_contract", "--directory", "/nonexistent/folder"],
        env={**os.environ, "PYTHONPATH": SRC, "BACKUP_TOKEN": TOKEN}, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 2 and "not a folder" in out.stderr


def test_sigterm_stops_it_and_the_command_it_runs(runner, tmp_path):
    pidfile = tmp_path / "pid"
    proc, client = runner("--export", f"echo $$ > {pidfile}; exec sleep 60")
    conn = client.connect()
    conn.request("POST", "/backup/export", body=b"", headers=client.headers())
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    command = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(command, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the export command outlived the server")
    conn.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from /proc")
def test_memory_stays_bounded_on_a_large_export_and_import(runner):
    size = 128 * 1024 * 1024
    proc, client = runner("--export", f"head -c {size} /dev/zero", "--import", "cat > /dev/null")
    resp = client.export()
    digest, received = hashlib.sha256(), 0
    while chunk := resp.read(1 << 20):
        digest.update(chunk)
        received += len(chunk)
    assert received == size

    def zeros():
        for _ in range(size // (1 << 20)):
            yield bytes(1 << 20)

    status, answer = client.import_("full", digest.hexdigest(), zeros())
    assert (status, answer) == (200, {"restored": True, "bytes": size})
    peak = peak_rss_kib(proc.pid)
    assert peak < 64 * 1024, f"the server peaked at {peak} KiB moving {size} bytes: it buffers"
