"""``python -m geo.users``: accounts from the command line, passwords never in argv.

Two runs go through a real ``python -m`` subprocess on each backend; the rest call
:func:`geo.users.main` in the process (same code, without paying the start-up each time).
"""

from __future__ import annotations

import getpass
import io
import os
import subprocess
import sys

import pytest

from geo.auth import ScryptParams
from geo.store import open_store
from geo.store import users as u
from geo.users import main
from tests.conftest import ROOT

PASSWORD = "correct horse battery"


def run_module(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATALAYA_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "geo.users", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def cli(monkeypatch, capsys):
    def run(url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--database", url, *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def test_python_m_geo_users(store_url):
    done = run_module(store_url, "add", "Root", "--role", "admin", "--name", "Root Admin",
                      "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("created root ")
    assert "admin" in done.stdout
    listed = run_module(store_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:2] == ["root", "admin"]
    assert "$scrypt$" not in listed.stdout
    assert PASSWORD not in listed.stdout
    with open_store(store_url) as store:
        assert u.authenticate(store, "root", PASSWORD).ok


def test_a_password_in_argv_is_refused_and_not_echoed(tmp_path):
    done = run_module(f"sqlite:///{tmp_path}/cli.sqlite3", "add", "ana", "--role", "analyst",
                      "--password", PASSWORD)
    assert done.returncode == 2
    assert "unrecognized arguments (not repeated" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


def test_the_account_lifecycle(store_url, cli):
    assert cli(store_url, "add", "Root", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0
    assert cli(store_url, "add", "ana", "--role", "analyst", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0
    code, out, _ = cli(store_url, "list")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [["ana", "analyst"],
                                                                ["root", "admin"]]
    assert cli(store_url, "role", "ana", "planner")[0] == 0
    assert cli(store_url, "passwd", "ana", "--password-stdin",
               stdin="a new passphrase here\n")[0] == 0
    assert cli(store_url, "disable", "ana")[0] == 0
    assert "disabled" in cli(store_url, "list")[1].splitlines()[0]
    assert "pages in" not in cli(store_url, "list")[1]
    with open_store(store_url) as store:
        u.set_language(store, "ana", "pt")  # chosen in the app's sidebar
    assert "; pages in pt;" in cli(store_url, "list")[1].splitlines()[0]
    assert cli(store_url, "enable", "ana")[0] == 0
    assert cli(store_url, "unlock", "ana")[0] == 0

    with open_store(store_url) as store:
        assert u.authenticate(store, "ana", "a new passphrase here").ok
        assert u.get_user(store, "ana").role.value == "planner"
        actors = {e.actor for e in u.read_user_audit(store) if e.action != "sign_in"}
    assert actors == {f"cli:{_login()}"}

    code, out, err = cli(store_url, "log", "ana", "--limit", "3")
    assert code == 0
    assert len(out.splitlines()) == 3
    assert "sign_in" in out.splitlines()[0]
    assert "a new passphrase here" not in out + err


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (("add", "ana", "--role", "analyst", "--password-stdin"), "short\n", 1, "at least 12"),
    (("add", "ana", "--role", "analyst", "--password-stdin"), "", 1, "held no password"),
    (("add", "ana", "--role", "analyst"), "", 1, "no terminal"),
    (("add", "ana", "--role", "boss", "--password-stdin"), PASSWORD, 2, "invalid choice"),
    (("add", "ana", "--role", "analyst", "--password", PASSWORD), "", 2, "not repeated"),
    (("role", "nobody", "field"), "", 1, "no account is called 'nobody'"),
    (("disable", "root"), "", 1, "last active admin"),
], ids=["weak", "empty-stdin", "no-tty", "bad-role", "argv-password", "unknown", "last-admin"])
def test_refusals_say_why(tmp_path, cli, args, stdin, code, message):
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    with open_store(url) as store:
        u.create_first_admin(store, "root", PASSWORD, params=ScryptParams(ln=4))
    got, out, err = cli(url, *args, stdin=stdin)
    assert got == code
    assert message in err
    assert PASSWORD not in out + err
    assert "Traceback" not in err


def test_an_oidc_only_account(tmp_path, cli):
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    assert cli(url, "add", "maria@unit.example", "--role", "field", "--no-password")[0] == 0
    assert "OIDC only" in cli(url, "list")[1]
