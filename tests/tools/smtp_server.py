"""A real SMTP server (aiosmtpd) for the end-to-end tests.

    smtp_server.py USER PASSWORD [plain|starttls|tls CERT_PEM KEY_PEM]

Listens on a free loopback port and requires AUTH with the user and password given. It prints
`listening PORT`, then one JSON line per message received, saying whether the connection was
encrypted and with which protocol.

- plain: no encryption (a relay on a trusted network); AUTH allowed in clear.
- starttls: the server offers STARTTLS and refuses every command but EHLO, STARTTLS and QUIT
  before it (`require_starttls`); AUTH is offered and accepted only once encrypted
  (`auth_require_tls`, RFC 3207 and RFC 4954 section 4).
- tls: implicit TLS (RFC 8314): the listening socket is wrapped, the handshake is the first
  thing on the connection.

CERT_PEM is the server's certificate chain and KEY_PEM its private key; the test makes them
with a throw-away certificate authority.
"""

import asyncio
import json
import socket
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER, PASSWORD = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "plain"
if MODE not in ("plain", "starttls", "tls"):
    sys.exit(f"unknown mode {MODE!r}: use plain, starttls or tls")


def tls_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    return context


class Handler:
    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        encrypted = server.transport.get_extra_info("ssl_object")
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "user": login,
                    "tls": encrypted is not None,
                    "tls_version": encrypted.version() if encrypted is not None else None,
                    "data": envelope.content.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == USER
        and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def factory():
    if MODE == "starttls":
        return SMTP(
            Handler(),
            authenticator=authenticator,
            auth_required=True,
            tls_context=tls_context(),
            require_starttls=True,
            auth_require_tls=True,
        )
    # Implicit TLS: the whole connection is encrypted before SMTP starts, which aiosmtpd does not
    # see as STARTTLS (and warns about); AUTH in clear is then not possible anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return SMTP(Handler(), authenticator=authenticator, auth_required=True, auth_require_tls=False)


async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, sock=sock, ssl=tls_context() if MODE == "tls" else None)
    print(f"listening {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
