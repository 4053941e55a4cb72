"""Where the token comes from, and how it is compared."""

from __future__ import annotations

import pytest

from backup_contract import TokenError, load_token
from backup_contract.token import TokenCheck


def test_the_argument_wins_then_the_variable_then_the_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("from-file\n")
    assert load_token("given", {"BACKUP_TOKEN": "from-env"}) == "given"
    assert load_token(None, {"BACKUP_TOKEN": "from-env"}) == "from-env"
    assert load_token(None, {"BACKUP_TOKEN_FILE": str(path)}) == "from-file"


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "set BACKUP_TOKEN"),
        ({"BACKUP_TOKEN": "  "}, "set BACKUP_TOKEN"),
        ({"BACKUP_TOKEN": "a", "BACKUP_TOKEN_FILE": "/x"}, "only one"),
        ({"BACKUP_TOKEN_FILE": "/nonexistent/token"}, "cannot read"),
    ],
)
def test_no_usable_token_is_an_error_saying_what_to_set(env, message):
    with pytest.raises(TokenError, match=message):
        load_token(None, env)


def test_an_empty_token_file_is_refused(tmp_path):
    path = tmp_path / "token"
    path.write_text("\n")
    with pytest.raises(TokenError):
        load_token(None, {"BACKUP_TOKEN_FILE": str(path)})


def test_only_the_right_bearer_token_is_allowed():
    check = TokenCheck("s3cret")
    assert check.allows("Bearer s3cret")
    assert check.allows("bearer s3cret")
    assert check.allows("Bearer  s3cret ")
    for refused in ["Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "", None, "Bearer ", "Bearer\u00e9"]:
        assert not check.allows(refused), refused
