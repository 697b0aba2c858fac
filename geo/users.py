"""Command line: manage the accounts of the configured store (``python -m geo.users ...``).

::

    python -m geo.users add ana --role analyst [--name "Ana López"] [--password-stdin]
    python -m geo.users list
    python -m geo.users passwd ana [--password-stdin]
    python -m geo.users role ana planner
    python -m geo.users disable ana        (and: enable, unlock)
    python -m geo.users log [ana] [--limit 20]

The store is ``ATALAYA_DATABASE_URL``, else the SQLite file of the data folder (``--database``
overrides both). Passwords are asked twice at the terminal, or read as one line from standard
input with ``--password-stdin`` (for scripts); never from the command line, where other users
of the machine and the shell history would see them. The audit log records the operating-system
user as ``cli:<name>``.

Exit codes: 0 done; 1 refused (unknown account, weak password, last admin ...), with one line
saying why; 2 a mistake in the arguments.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from geo.auth.permissions import Role
from geo.clihelp import plain_help
from geo.errors import AtalayaError, AuthError
from geo.store.engine import Store, open_store
from geo.store.users import (
    User,
    activate,
    create_user,
    deactivate,
    list_users,
    read_user_audit,
    set_password,
    set_role,
    unlock,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """Argument parser that never repeats unrecognised arguments: one may be a password."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --password must not mean --password-stdin
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = ("unrecognized arguments (not repeated: they may hold a password); "
                       "passwords are asked at a prompt or read with --password-stdin")
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m geo.users", description=plain_help(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default=None,
                   help="store URL (default: ATALAYA_DATABASE_URL or the data folder's SQLite)")
    sub = p.add_subparsers(dest="command", required=True)
    roles = [r.value for r in Role]
    add = sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--name", default="", help="display name (default: the user name)")
    group = add.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true",
                       help="read the password as one line from standard input")
    group.add_argument("--no-password", action="store_true",
                       help="no local password: the account signs in through OIDC only")
    sub.add_parser("list", help="list the accounts (never their passwords)")
    passwd = sub.add_parser("passwd", help="set a new password (also unlocks)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password as one line from standard input")
    role = sub.add_parser("role", help="change an account's role")
    role.add_argument("username")
    role.add_argument("role", choices=roles)
    for name, text in (("disable", "disable an account (it stays in the audit log)"),
                       ("enable", "enable a disabled account"),
                       ("unlock", "clear failed sign-ins")):
        sub.add_parser(name, help=text).add_argument("username")
    log = sub.add_parser("log", help="recent sign-ins and account changes, newest first")
    log.add_argument("username", nargs="?", default=None)
    log.add_argument("--limit", type=int, default=20)
    return p


def read_password(*, from_stdin: bool, stdin: TextIO | None = None) -> str:
    """Read a new password: one line of standard input, or typed twice at the terminal.

    Raises
    ------
    AuthError
        Nothing was given, the two entries differ, or there is no terminal to ask at.
    """
    stream = sys.stdin if stdin is None else stdin
    if from_stdin:
        password = stream.readline().rstrip("\r\n")
        if not password:
            raise AuthError("--password-stdin: standard input held no password")
        return password
    if not stream.isatty():
        raise AuthError("no terminal to ask for the password at; pipe it with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise AuthError("the two passwords differ; nothing was changed")
    return first


def _describe(user: User) -> str:
    state = "active" if user.active else "disabled"
    if user.locked_until is not None:
        state += f", waiting until {user.locked_until:%Y-%m-%d %H:%M:%S} UTC"
    elif user.failed_count:
        state += f", {user.failed_count} failed sign-ins"
    last = "never" if user.last_sign_in_at is None else f"{user.last_sign_in_at:%Y-%m-%d %H:%M}"
    password = "" if user.has_password else ", OIDC only"
    language = f"; pages in {user.language}" if user.language else ""
    return (f"{user.username:<24} {user.role.value:<8} {state}{password}; "
            f"last sign-in {last}{language}; {user.display_name}")


def _run(args: argparse.Namespace, store: Store, actor: str) -> str:
    if args.command == "list":
        return "\n".join(_describe(u) for u in list_users(store)) or "no accounts yet"
    if args.command == "log":
        entries = read_user_audit(store, username=args.username, limit=args.limit)
        return "\n".join(f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<20} {e.action:<18} "
                         f"{e.field or ''} {'' if e.new_value is None else e.new_value}"
                         for e in entries) or "nothing recorded"
    if args.command == "add":
        password = None if args.no_password else read_password(from_stdin=args.password_stdin)
        user = create_user(store, args.username, password, role=args.role, actor=actor,
                           display_name=args.name)
        return f"created {_describe(user)}"
    if args.command == "passwd":
        user = set_password(store, args.username,
                            read_password(from_stdin=args.password_stdin), actor=actor)
        return f"password set for {user.username}"
    if args.command == "role":
        return f"changed: {_describe(set_role(store, args.username, args.role, actor=actor))}"
    change = {"disable": deactivate, "enable": activate, "unlock": unlock}[args.command]
    return f"changed: {_describe(change(store, args.username, actor=actor))}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 for --help
        return int(exc.code or 0)
    try:
        actor = f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in a bare container
        actor = "cli:unknown"
    try:
        with open_store(args.database) as store:
            print(_run(args, store, actor))
    except AtalayaError as err:
        print(f"python -m geo.users {args.command}: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
