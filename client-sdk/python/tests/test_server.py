"""The package's own HTTP/1.1 server: framing both ways, keep-alive, and answers that reach the
client even when the app left the upload unread."""

from __future__ import annotations

import json
import socket

from backup_contract import CommandSource, make_wsgi_app

from conftest import TOKEN, sha256


def raw(client, request: bytes) -> bytes:
    """Sends raw bytes; returns everything the server answered until it closed."""
    with socket.create_connection((client.host, client.port), timeout=10) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        return s.makefile("rb").read()


def head(route: str, sha: str, extra: str = "") -> bytes:
    return (
        f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Backup-Type: full\r\nBackup-Sha256: {sha}\r\n{extra}"
    ).encode()


def test_requests_follow_one_another_on_a_kept_alive_connection(serve):
    client = serve(make_wsgi_app("cmd", CommandSource("echo data", "cat >/dev/null"), token=TOKEN))
    conn = client.connect()
    for _ in range(3):
        conn.request("GET", "/backup/capabilities", headers=client.headers())
        assert conn.getresponse().read()
        conn.request("POST", "/backup/export", body=b"{}", headers=client.headers())
        assert conn.getresponse().read() == b"data\n"
        conn.request("POST", "/backup/import", body=iter([b"ab", b"c"]),
                     headers=client.headers(Backup_Type="full", Backup_Sha256=sha256(b"abc")), encode_chunked=True)
        assert json.loads(conn.getresponse().read()) == {"restored": True, "bytes": 3}
    conn.close()


def test_chunk_extensions_and_trailers_are_read(serve, tmp_path):
    out = tmp_path / "out"
    client = serve(make_wsgi_app("cmd", CommandSource("echo data", f"cat > {out}"), token=TOKEN))
    body = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
    answer = raw(client, head("/backup/import", sha256(b"abcde"), "Transfer-Encoding: chunked\r\n\r\n") + body)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert out.read_bytes() == b"abcde"


def test_a_malformed_chunked_upload_is_a_cut_upload_and_is_not_restored(serve, tmp_path):
    out = tmp_path / "out"
    client = serve(make_wsgi_app("cmd", CommandSource("echo data", f"cat > {out}.part && mv {out}.part {out}"),
                                 token=TOKEN))
    body = b"3\r\nabc\r\nzz\r\nde\r\n0\r\n\r\n"
    answer = raw(client, head("/backup/import", sha256(b"abcde"), "Transfer-Encoding: chunked\r\n\r\n") + body)
    assert answer.startswith(b"HTTP/1.1 500") and b"import_failed" in answer, answer
    assert not out.exists()


def test_a_refusal_reaches_the_client_even_with_the_upload_unread(serve):
    client = serve(make_wsgi_app("cmd", CommandSource("echo data", "cat >/dev/null"), token=TOKEN))
    body = b"x" * 300_000
    request = (
        f"POST /backup/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    answer = raw(client, request)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"Connection: close" in answer and b"unauthorized" in answer


def test_an_unsupported_transfer_coding_is_refused(serve):
    client = serve(make_wsgi_app("cmd", CommandSource("echo data"), token=TOKEN))
    answer = raw(client, head("/backup/import", "0" * 64, "Transfer-Encoding: gzip, chunked\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 501"), answer


def test_an_http_1_0_client_gets_the_export_until_the_connection_closes(serve):
    client = serve(make_wsgi_app("cmd", CommandSource("echo data"), token=TOKEN))
    answer = raw(client, f"POST /backup/export HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    headers, _, body = answer.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 200") and b"chunked" not in headers
    assert body == b"data\n"
