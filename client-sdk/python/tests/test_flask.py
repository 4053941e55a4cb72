"""The blueprint in a Flask app served by werkzeug: one call to make, one line to register."""

from __future__ import annotations

import http.client

import pytest

from backup_contract import CommandSource, DirectorySource, create_backup_blueprint

from conftest import TOKEN, assert_an_export_right_after_a_dropped_one_is_served, sha256, skip_or_fail, wrong

try:
    from flask import Flask
except ImportError:  # pragma: no cover - depends on the environment
    Flask = None


@pytest.fixture
def flask_app():
    if Flask is None:
        skip_or_fail("Flask is not installed (pip install flask)")
    app = Flask("test_app")
    app.config["MAX_CONTENT_LENGTH"] = 1024  # the app's own limit must not cap imports

    @app.get("/")
    def index():
        return "the app's own page"

    return app


def test_a_registered_blueprint_round_trips_a_folder(flask_app, serve_flask, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("remember the milk\n" * 1000)
    flask_app.register_blueprint(create_backup_blueprint("flask-files", DirectorySource(data), token=TOKEN))
    client = serve_flask(flask_app)

    assert client.json("GET", "/backup/capabilities", None, {})[0] == 401
    status, caps = client.capabilities()
    assert status == 200 and caps["app"] == "flask-files" and caps["restore"] is True
    resp = client.request("GET", "/", None, {})
    assert resp.read() == b"the app's own page"

    resp = client.export()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    archive = resp.read()
    (data / "notes.txt").write_text("changed\n")
    status, answer = client.import_("full", wrong(sha256(archive)), archive)
    assert (status, answer["error"]) == (422, "checksum_mismatch")
    assert (data / "notes.txt").read_text() == "changed\n"
    status, answer = client.import_("full", sha256(archive), archive)
    assert (status, answer) == (200, {"restored": True, "bytes": len(archive)})
    assert (data / "notes.txt").read_text() == "remember the milk\n" * 1000
    status, report = client.verify("full", sha256(archive), archive)
    assert status == 200 and report["ok"] is True


def test_a_failing_export_cuts_the_connection_under_werkzeug_too(flask_app, serve_flask):
    source = CommandSource("head -c 100000 /dev/zero; sleep 0.2; exit 1")
    flask_app.register_blueprint(create_backup_blueprint("broken", source, token=TOKEN))
    client = serve_flask(flask_app)
    resp = client.export()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()


def test_the_token_comes_from_the_environment(flask_app, serve_flask, monkeypatch, tmp_path):
    monkeypatch.setenv("BACKUP_TOKEN", TOKEN)
    flask_app.register_blueprint(create_backup_blueprint("env", CommandSource("echo hi")))
    client = serve_flask(flask_app)
    assert client.export_bytes() == b"hi\n"
    status, body = client.import_("full", sha256(b"x"), b"x")
    assert (status, body["error"]) == (404, "restore_unsupported")



def test_an_export_right_after_a_dropped_one_is_served(flask_app, serve_flask, tmp_path):
    """What the conformance kit does; werkzeug frees the slot a moment after the body ended."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "big.bin").write_bytes(bytes((i * 2654435761 >> 11) & 0xFF for i in range(2_000_000)))
    flask_app.register_blueprint(create_backup_blueprint("files", DirectorySource(data), token=TOKEN))
    assert_an_export_right_after_a_dropped_one_is_served(serve_flask(flask_app))
