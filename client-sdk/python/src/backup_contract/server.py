"""A small threaded HTTP/1.1 server for WSGI apps, from the standard library alone.

``wsgiref`` speaks HTTP/1.0 only, which cannot frame a streamed export. This server reads
request bodies framed by ``Content-Length`` or chunked, streams response bodies without a
``Content-Length`` chunked, and when an app's body iterable raises after the headers were sent
it closes the connection without ending the chunked body, so the client sees a failure, never a
short body that looks complete.
"""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Optional
from urllib.parse import unquote, urlsplit

from .errors import SourceError

log = logging.getLogger("backup_contract.server")

#: Longest line accepted in chunked framing.
_MAX_LINE = 4096
#: What is read and dropped of a body the app left unread, before the connection is closed.
_DRAIN_LIMIT = 1 << 20


class _RequestBody(io.RawIOBase):
    """A request body read from the connection: ``length`` bytes, or chunks up to the last."""

    def __init__(self, rfile, length: Optional[int], chunked: bool) -> None:
        super().__init__()
        self._rfile = rfile
        self._chunked = chunked
        self._left = 0 if chunked else (length or 0)
        self.exhausted = not chunked and self._left == 0

    def readable(self) -> bool:
        return True

    def _line(self) -> bytes:
        line = self._rfile.readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise ConnectionError("the chunked request body was cut off or malformed")
        return line

    def readinto(self, buffer) -> int:
        if self.exhausted:
            return 0
        if self._chunked and self._left == 0:
            try:
                size = int(self._line().split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ConnectionError("a chunk size of the request body is not hexadecimal") from None
            if size == 0:
                while self._line().strip():  # trailers, then the empty line
                    pass
                self.exhausted = True
                return 0
            self._left = size
        data = self._rfile.read1(min(len(buffer), self._left))
        if not data:
            raise ConnectionError("the request body was cut off")
        buffer[: len(data)] = data
        self._left -= len(data)
        if self._left == 0:
            if self._chunked:
                if self._rfile.read(2) != b"\r\n":
                    raise ConnectionError("a chunk of the request body does not end with CRLF")
            else:
                self.exhausted = True
        return len(data)


class _Handler(BaseHTTPRequestHandler):
    """Runs the server's WSGI app for each request of a keep-alive connection."""

    protocol_version = "HTTP/1.1"
    server_version = "backup-contract"
    #: Seconds a connection may stay silent (between requests, or mid-upload).
    timeout = 600

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.info("%s %s", self.address_string(), format % args)

    def _environ(self, body: _RequestBody, length: Optional[int]) -> dict:
        target = self.path
        if not target.startswith("/"):
            target = urlsplit(target).path or "/"
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if "_" in name or key in ("TRANSFER_ENCODING", "CONTENT_LENGTH"):
                continue  # underscores could pass for dashes; framing is the server's business
            key = key if key == "CONTENT_TYPE" else "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if length is not None:
            environ["CONTENT_LENGTH"] = str(length)
        return environ

    def _framing(self):
        """The body's length (``None`` when chunked) and whether it is chunked; or ``None``
        after refusing the request."""
        encodings = [e.strip().lower() for e in self.headers.get("Transfer-Encoding", "").split(",") if e.strip()]
        if encodings:
            if encodings != ["chunked"]:
                self.send_error(501, "only the chunked transfer coding is supported")
                return None
            return None, True
        declared = self.headers.get("Content-Length")
        if declared is None:
            return 0, False
        if not declared.strip().isdigit():
            self.send_error(400, "invalid Content-Length")
            return None
        return int(declared), False

    def _run(self) -> None:
        framing = self._framing()
        if framing is None:
            self.close_connection = True
            return
        length, chunked = framing
        body = _RequestBody(self.rfile, length, chunked)
        environ = self._environ(body, length)
        status: Optional[str] = None
        headers: list = []
        sent = chunk = False
        head = self.command == "HEAD"

        def start_response(new_status, new_headers, exc_info=None):
            nonlocal status, headers
            if exc_info:
                try:
                    if sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif status is not None:
                raise AssertionError("start_response was already called")
            status, headers = new_status, list(new_headers)
            return write

        def send_head() -> None:
            nonlocal sent, chunk
            if status is None:
                raise AssertionError("the app sent a body before calling start_response")
            code, _, reason = status.partition(" ")
            names = {k.lower() for k, _ in headers}
            self.send_response(int(code), reason or None)
            for k, v in headers:
                self.send_header(k, v)
            if "content-length" not in names and not head and int(code) >= 200 and int(code) not in (204, 304):
                if self.request_version == "HTTP/1.1":
                    chunk = True
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.close_connection = True
            if not body.exhausted and "connection" not in names:
                # Whatever the app left unread cannot be told from the next request.
                self.close_connection = True
                self.send_header("Connection", "close")
            self.end_headers()
            sent = True

        def write(data: bytes) -> None:
            if not sent:
                send_head()
            if data and not head:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunk else data)

        result = None
        try:
            result = self.server.app(environ, start_response)
            for data in result:
                write(data)
            if not sent:
                send_head()
            if chunk:
                self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, socket.timeout) as e:
            self.close_connection = True
            log.info("%s %s: the client went away: %s", self.command, self.path, e)
        except Exception as e:
            self.close_connection = True
            if sent:
                # Never end the body cleanly: the client must see that it is incomplete.
                if isinstance(e, SourceError):
                    log.warning("%s %s: cut the connection: %s", self.command, self.path, e)
                else:
                    log.exception("%s %s: the app failed mid-response; cut the connection", self.command, self.path)
            else:
                log.exception("%s %s: the app failed", self.command, self.path)
                self._internal_error()
        finally:
            if hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    log.exception("closing the response of %s %s failed", self.command, self.path)
        if not body.exhausted:
            self.close_connection = True
            self._drain(body)

    def _internal_error(self) -> None:
        message = b'{"error":"internal_error","message":"the app failed: see its log"}'
        try:
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(message)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(message)
        except OSError:
            pass

    def _drain(self, body: _RequestBody) -> None:
        """Reads and drops some of what the app left unread, so the client reads the answer
        rather than a reset connection."""
        try:
            self.connection.settimeout(1)
            left = _DRAIN_LIMIT
            while left > 0:
                data = body.read(min(65536, left))
                if not data:
                    break
                left -= len(data)
        except Exception:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _run


class WSGIServer(socketserver.ThreadingMixIn, HTTPServer):
    """A threaded HTTP/1.1 server running ``app``, one thread per connection."""

    daemon_threads = True

    def __init__(self, host: str, port: int, app) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer would look the host's name up in DNS; the address is enough.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    @property
    def port(self) -> int:
        """The port listened on (the one picked when 0 was asked for)."""
        return self.server_address[1]

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the server."""
        host = self.server_address[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def parse_listen(listen: str):
    """``("127.0.0.1", 8080)`` for ``"127.0.0.1:8080"``; ``"[::1]:0"`` for IPv6."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{listen!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def make_server(app, host: str = "127.0.0.1", port: int = 8080) -> WSGIServer:
    """A :class:`WSGIServer` for ``app`` bound to ``host``:``port`` (0 picks a free port), not
    yet serving: call ``serve_forever()`` (and ``shutdown()`` from another thread)."""
    return WSGIServer(host, port, app)


def serve(app, listen: str = "127.0.0.1:8080") -> None:
    """Serves ``app`` on ``listen`` (``HOST:PORT``) until interrupted. Prints
    ``listening on http://HOST:PORT`` on standard output first, so a caller that asked for
    port 0 learns the port."""
    server = make_server(app, *parse_listen(listen))
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
