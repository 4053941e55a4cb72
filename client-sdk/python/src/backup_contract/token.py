"""The bearer token: where it comes from, and comparing it in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Mapping, Optional


class TokenError(ValueError):
    """No usable token was configured."""


def load_token(token: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The token to require: ``token`` when given, else ``BACKUP_TOKEN``, else the contents of the
    file named by ``BACKUP_TOKEN_FILE`` (surrounding whitespace removed).

    Tokens never come from a command line (where ``ps`` shows them) or a URL. Raises
    :class:`TokenError` when none is set, both variables are, or the token is empty.
    """
    env = os.environ if environ is None else environ
    if token is None:
        value, path = env.get("BACKUP_TOKEN"), env.get("BACKUP_TOKEN_FILE")
        if value and path:
            raise TokenError("both BACKUP_TOKEN and BACKUP_TOKEN_FILE are set: set only one")
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    token = f.read()
            except OSError as e:
                raise TokenError(f"cannot read BACKUP_TOKEN_FILE {path!r}: {e.strerror}") from None
        else:
            token = value
    if token is None or not token.strip():
        raise TokenError(
            "no backup token: set BACKUP_TOKEN, or BACKUP_TOKEN_FILE to a file holding it "
            "(the token the orchestrator will send)"
        )
    return token.strip()


class TokenCheck:
    """Holds only the token's digest, so a comparison takes the same time wherever the first
    difference is, and whatever the length of what was sent."""

    def __init__(self, token: str) -> None:
        if not token.strip():
            raise TokenError("the backup token must not be empty")
        self._digest = hashlib.sha256(token.strip().encode()).digest()

    def allows(self, authorization: Optional[str]) -> bool:
        """True when ``authorization`` (the header's value) is ``Bearer <the token>``."""
        if not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        digest = hashlib.sha256(given.strip().encode("utf-8", "surrogateescape")).digest()
        return hmac.compare_digest(digest, self._digest)
