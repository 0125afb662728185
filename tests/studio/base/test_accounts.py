"""studio.base.accounts: hashed passwords, the accounts file, and checks that do not tell names apart."""

from __future__ import annotations

import stat

import pytest

from studio.base.accounts import Accounts, check_password, hash_password, parse_login
from studio.base.errors import ConfigError


def test_a_password_is_stored_only_as_its_scrypt_hash():
    hashed = hash_password("s3cret:pw")
    assert hashed.startswith("scrypt$") and "s3cret" not in hashed
    assert check_password("s3cret:pw", hashed) and not check_password("s3cret", hashed)
    assert hash_password("same") != hash_password("same")  # salted


def test_the_accounts_file_round_trip(tmp_path):
    path = tmp_path / "accounts.txt"
    Accounts.write_line(path, "alice", "pw-a", admin=True)
    Accounts.write_line(path, "bob", "pw-b")
    Accounts.write_line(path, "bob", "pw-b2")  # replaced, not doubled
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "pw-a" not in text and "pw-b" not in text and text.count("bob:") == 1
    accounts = Accounts.read(path)
    assert accounts.verify("alice", "pw-a") and accounts.is_admin("alice")
    assert accounts.verify("bob", "pw-b2") and not accounts.verify("bob", "pw-b") and not accounts.is_admin("bob")
    assert not accounts.verify("nobody", "pw-a") and not accounts.verify("alice", "")


@pytest.mark.parametrize("line", ["alice:plaintext", "alice", "alice:scrypt$1$1$1$00$00:root",
                                  "../x:scrypt$1$1$1$00$00"])
def test_a_bad_line_is_refused_with_its_number(tmp_path, line):
    path = tmp_path / "accounts.txt"
    path.write_text(f"# accounts\n{line}\n")
    with pytest.raises(ConfigError, match="line 2|not an account name"):
        Accounts.read(path)


def test_logins_given_on_the_command_line():
    assert parse_login("ann:pa:ss") == ("ann", "pa:ss")
    with pytest.raises(ConfigError, match="name:password"):
        parse_login("no-colon")
