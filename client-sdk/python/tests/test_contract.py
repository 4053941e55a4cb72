"""The contract's rules, each shown failing the way it must: tokens, errors, one export at a
time, empty and failing exports, imports that never apply a bad body."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from backup_contract import (
    BackupType,
    Busy,
    CommandSource,
    DirectorySource,
    Health,
    Source,
    SourceError,
    make_wsgi_app,
)

from conftest import TOKEN, sha256, wrong


def command_app(export_cmd, import_cmd=None, slot_wait=0.1, **kw):
    """An app of one CommandSource; a busy slot is waited for only briefly, so the tests of 409
    do not depend on how long their commands take."""
    return make_wsgi_app("cmd", CommandSource(export_cmd, import_cmd, **kw), token=TOKEN, slot_wait=slot_wait)


# -- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1], ""])
def test_every_route_refuses_a_missing_or_wrong_token(serve, token):
    client = serve(command_app("echo data", "cat >/dev/null"), token=token)
    for method, path in [("GET", "/backup/capabilities"), ("POST", "/backup/export"),
                         ("POST", "/backup/import"), ("POST", "/backup/verify")]:
        status, body = client.json(method, path, b"", client.headers())
        assert status == 401, (method, path)
        assert body["error"] == "unauthorized" and body["message"]


def test_the_scheme_is_case_insensitive_and_basic_is_refused(serve):
    client = serve(command_app("echo data"))
    assert client.json("GET", "/backup/capabilities", None, {"Authorization": f"bearer {TOKEN}"})[0] == 200
    assert client.json("GET", "/backup/capabilities", None, {"Authorization": f"Basic {TOKEN}"})[0] == 401
    assert client.json("GET", "/backup/capabilities", None, {"Authorization": TOKEN})[0] == 401


# -- export ------------------------------------------------------------------------------------


def test_an_unknown_type_bad_json_and_an_empty_body_are_told_apart(serve):
    client = serve(command_app("echo data"))
    status, body = client.json("POST", "/backup/export", json.dumps({"type": "nightly"}), client.headers())
    assert (status, body["error"]) == (422, "unknown_type")
    assert "full" in body["message"]
    for bad in ["{not json", "[1]", '{"type": 3}']:
        status, body = client.json("POST", "/backup/export", bad, client.headers())
        assert (status, body["error"]) == (400, "bad_request"), bad
    assert client.export_bytes() == b"data\n"  # no body: the first type
    assert client.request("POST", "/backup/export", '{"type": null}', client.headers()).read() == b"data\n"


def test_an_empty_export_is_a_failed_export(serve):
    client = serve(command_app("true"))
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    assert (status, body["error"]) == (500, "export_failed")
    assert "empty" in body["message"]


def test_a_command_failing_before_its_first_byte_answers_500_with_its_words(serve):
    client = serve(command_app("echo 'disk on fire' >&2; exit 3"))
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    assert (status, body["error"]) == (500, "export_failed")
    assert "exit status 3" in body["message"] and "disk on fire" in body["message"]


def test_a_program_that_cannot_start_answers_500(serve):
    client = serve(command_app(["/nonexistent/dump-tool"]))
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    assert (status, body["error"]) == (500, "export_failed")
    assert "could not start" in body["message"]


def test_a_command_failing_part_way_cuts_the_connection(serve):
    client = serve(command_app("head -c 200000 /dev/zero; sleep 0.2; echo 'dump died' >&2; exit 1"))
    resp = client.export()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as cut:
        resp.read()
    assert len(cut.value.partial) == 200000  # what was sent came through, but never a clean end
    # The slot is free again.
    again = client.export()
    assert again.status == 200
    again.close()


class Failing(Source):
    """A Python source whose generator fails part-way, or answers busy."""

    def __init__(self, busy=False):
        self.busy = busy

    def types(self):
        return [BackupType("full", "application/octet-stream", "bin")]

    def export(self, backup_type):
        if self.busy:
            raise Busy("maintenance until noon", retry_after=120)
        yield b"x" * 1000
        raise SourceError("the disk went away")


def test_a_generator_raising_part_way_cuts_the_connection_and_busy_answers_503(serve):
    resp = serve(make_wsgi_app("gen", Failing(), token=TOKEN)).export()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    client = serve(make_wsgi_app("gen", Failing(busy=True), token=TOKEN))
    resp = client.export()
    assert resp.status == 503 and resp.getheader("Retry-After") == "120"
    assert json.loads(resp.read())["error"] == "busy"


def test_the_export_streams_its_first_byte_before_the_command_ends(serve):
    client = serve(command_app("printf start; sleep 1.5; printf end"))
    started = time.monotonic()
    resp = client.export()
    first = resp.read1(100) if hasattr(resp, "read1") else resp.read(5)
    first_after = time.monotonic() - started
    rest = resp.read()
    assert first + rest == b"startend"
    assert first_after < 1.0, f"first byte after {first_after:.2f}s: the export was buffered"


# -- one at a time -----------------------------------------------------------------------------


def test_a_second_export_or_an_import_while_one_runs_gets_409(serve):
    client = serve(command_app("printf first; sleep 1; printf done", "cat >/dev/null"))
    running = client.export()
    assert running.status == 200
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    assert (status, body["error"]) == (409, "export_in_progress")
    status, body = client.import_("full", sha256(b"x"), b"x")
    assert (status, body["error"]) == (409, "export_in_progress")
    assert running.read() == b"firstdone"
    assert client.export_bytes() == b"firstdone"


def test_a_request_waits_a_moment_for_a_running_export_to_end(serve):
    client = serve(command_app("printf first; sleep 0.3; printf done", slot_wait=5))
    running = client.export()
    assert running.status == 200
    threading.Timer(0.2, running.read).start()  # the first is read (and ends) while the second waits
    assert client.export_bytes() == b"firstdone"


def test_an_import_blocks_exports_while_it_runs(serve):
    client = serve(command_app("echo data", "sleep 1; cat >/dev/null"))
    results = []
    t = threading.Thread(target=lambda: results.append(client.import_("full", sha256(b"abc"), b"abc")))
    t.start()
    time.sleep(0.4)
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    t.join()
    assert (status, body["error"]) == (409, "export_in_progress")
    assert results == [(200, {"restored": True, "bytes": 3})]


def test_concurrent_exports_can_be_allowed(serve):
    source = CommandSource("printf a; sleep 0.5; printf b")
    app = make_wsgi_app("cmd", source, token=TOKEN, concurrent_exports=2, slot_wait=0)
    client = serve(app)
    first, second = client.export(), client.export()
    assert (first.status, second.status) == (200, 200)
    assert first.read() == second.read() == b"ab"


def test_a_client_going_away_stops_the_command_and_frees_the_slot(serve):
    client = serve(command_app("yes"))
    resp = client.export()
    assert resp.status == 200 and resp.read(10)
    resp.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = client.export()
        status = probe.status
        probe.close()
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, "the export slot was never freed"


# -- import ------------------------------------------------------------------------------------


def test_import_headers_are_required_and_checked(serve):
    client = serve(command_app("echo data", "cat >/dev/null"))
    h = client.headers
    assert client.json("POST", "/backup/import", b"x", h(Backup_Sha256=sha256(b"x")))[1]["error"] == "bad_request"
    assert client.json("POST", "/backup/import", b"x", h(Backup_Type="full"))[1]["error"] == "bad_request"
    assert client.json("POST", "/backup/import", b"x", h(Backup_Type="full", Backup_Sha256="abc"))[0] == 400
    status, body = client.import_("nightly", sha256(b"x"), b"x")
    assert (status, body["error"]) == (422, "unknown_type")
    status, body = client.import_("full", sha256(b"x").upper(), b"x")  # hex in capitals is fine
    assert status == 200, body


def test_an_app_without_an_import_command_refuses_imports_with_404(serve):
    client = serve(command_app("echo data"))
    assert client.capabilities()[1]["restore"] is False
    status, body = client.import_("full", sha256(b"x"), b"x")
    assert (status, body["error"]) == (404, "restore_unsupported")
    status, body = client.verify("full", sha256(b"x"), b"x")
    assert (status, body["error"]) == (404, "restore_unsupported")


def test_a_mismatch_never_gives_the_restore_command_the_end_of_its_input(serve, tmp_path):
    """The restore command writes what it read and exits 0 only at end of input: on a mismatch
    it is killed first, so it never completes."""
    received = tmp_path / "received"
    client = serve(command_app("echo data", f"cat > {received}.part && mv {received}.part {received}"))
    body = b"y" * 300_000
    status, answer = client.import_("full", wrong(sha256(body)), body)
    assert (status, answer["error"]) == (422, "checksum_mismatch")
    assert not received.exists()
    partial = received.with_name("received.part")
    assert not partial.exists() or partial.stat().st_size < len(body), "the whole body reached the tool"
    status, answer = client.import_("full", sha256(body), body)
    assert status == 200 and received.read_bytes() == body


def test_a_mismatch_kills_what_the_restore_command_started_too(serve, tmp_path):
    """A shell's children die with it: none is left to see its input end and complete."""
    received = tmp_path / "received"
    nested = f"sh -c 'cat > {received}.part && mv {received}.part {received}'; true"
    client = serve(command_app("echo data", nested))
    body = b"y" * 300_000
    status, answer = client.import_("full", wrong(sha256(body)), body)
    assert (status, answer["error"]) == (422, "checksum_mismatch")
    time.sleep(0.5)
    assert not received.exists()


def test_a_restore_command_failing_answers_import_failed_with_its_words(serve):
    client = serve(command_app("echo data", "cat >/dev/null; echo 'no space left' >&2; exit 4"))
    status, body = client.import_("full", sha256(b"abc"), b"abc")
    assert (status, body["error"]) == (500, "import_failed")
    assert "no space left" in body["message"]


def test_a_restore_command_that_stops_reading_early_fails_after_the_body_was_read(serve):
    client = serve(command_app("echo data", "head -c 10 >/dev/null"))
    body = b"z" * 2_000_000
    status, answer = client.import_("full", sha256(body), body)
    assert (status, answer["error"]) == (500, "import_failed")
    assert "before reading the whole backup" in answer["message"]
    status, answer = client.import_("full", wrong(sha256(body)), body)
    assert (status, answer["error"]) == (422, "checksum_mismatch")


def test_a_cut_upload_is_never_restored(serve, tmp_path):
    received = tmp_path / "received"
    client = serve(command_app("echo data", f"cat > {received}.part && mv {received}.part {received}"))
    body = b"q" * 100_000
    with socket.create_connection((client.host, client.port)) as s:
        s.sendall(
            b"POST /backup/import HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nBackup-Type: full\r\nBackup-Sha256: {sha256(body)}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:50_000]
        )
        s.shutdown(socket.SHUT_WR)
        answer = s.makefile("rb").read()
    assert b" 500 " in answer.split(b"\r\n")[0] and b"import_failed" in answer, answer[:300]
    assert b"cut off" in answer
    assert not received.exists()


# -- several sources -----------------------------------------------------------------------------


class Notes(Source):
    can_restore = False

    def types(self):
        return [BackupType("notes", "text/plain", "txt")]

    def export(self, backup_type):
        yield b"a note\n"

    def health(self):
        return Health(size_bytes=7, details={"notes": "1"})


def test_several_sources_offer_their_types_together(serve, tmp_path):
    (tmp_path / "f.txt").write_text("file\n")
    client = serve(make_wsgi_app("multi", [DirectorySource(tmp_path, type_name="files"), Notes()], token=TOKEN))
    status, caps = client.capabilities()
    assert [t["name"] for t in caps["types"]] == ["files", "notes"]
    assert caps["restore"] is True
    assert caps["health"]["size_bytes"] == 5 + 7
    assert caps["health"]["details"] == {"files.size_bytes": "5", "files.files": "1", "notes.size_bytes": "7",
                                         "notes.notes": "1"}
    assert client.export_bytes("notes") == b"a note\n"
    status, body = client.import_("notes", sha256(b"x"), b"x")
    assert (status, body["error"]) == (404, "restore_unsupported")


def test_invalid_capabilities_and_a_missing_token_are_refused_at_start(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="offered twice"):
        make_wsgi_app("x", [DirectorySource(tmp_path), DirectorySource(tmp_path)], token=TOKEN)
    with pytest.raises(ValueError, match="type name"):
        make_wsgi_app("x", DirectorySource(tmp_path, type_name="no spaces"), token=TOKEN)
    with pytest.raises(ValueError, match="app name"):
        make_wsgi_app(" ", DirectorySource(tmp_path), token=TOKEN)
    monkeypatch.delenv("BACKUP_TOKEN", raising=False)
    monkeypatch.delenv("BACKUP_TOKEN_FILE", raising=False)
    with pytest.raises(ValueError, match="BACKUP_TOKEN"):
        make_wsgi_app("x", DirectorySource(tmp_path))


def test_other_paths_and_methods_are_refused(serve):
    client = serve(command_app("echo data"))
    assert client.json("GET", "/backup/export")[0] == 405
    assert client.json("GET", "/elsewhere")[0] == 404
