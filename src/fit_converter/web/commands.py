"""The ``set-password`` and ``create-token`` subcommands of ``fit-converter``."""

from __future__ import annotations

import argparse
import getpass
import sys

from fit_converter.config import Settings, load_settings
from fit_converter.errors import ConfigError
from fit_converter.web.owner import MIN_PASSWORD_LENGTH, write_password
from fit_converter.web.tokens import create_token, load_tokens, revoke_token, tokens_path

#: Name of a token created without a NAME argument.
DEFAULT_TOKEN_NAME = "default"


def _settings_or_none() -> Settings | None:
    try:
        return load_settings()
    except ConfigError as error:
        print(f"fit-converter: {error}", file=sys.stderr)
        return None


def _read_new_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"New web password (at least {MIN_PASSWORD_LENGTH} characters): ")
    second = getpass.getpass("Repeat it: ")
    if first != second:
        print("error: the two passwords differ; nothing was changed", file=sys.stderr)
        return None
    return first


def set_password(args: argparse.Namespace) -> int:
    """Ask for the owner's password and store its hash; return the exit status."""
    settings = _settings_or_none()
    if settings is None:
        return 2

    password = _read_new_password(args.stdin)
    if password is None:
        return 1
    try:
        write_password(settings.password_path, password)
    except ValueError as error:
        print(f"error: {error}; nothing was changed", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {settings.password_path}: {error}", file=sys.stderr)
        return 1
    print(f"Password set in {settings.password_path}. Every open web session is logged out.")
    return 0


def manage_tokens(args: argparse.Namespace) -> int:
    """Create, list or revoke API tokens; return the exit status."""
    settings = _settings_or_none()
    if settings is None:
        return 2
    path = tokens_path(settings.state_dir)

    try:
        if args.list:
            records = load_tokens(path)
            if not records:
                print(f"no tokens in {path}; create one with 'fit-converter create-token NAME'")
            for record in records:
                print(f"{record.name}\tcreated {record.created}")
            return 0
        if args.revoke:
            if args.name is None:
                print("error: --revoke needs the NAME of the token to revoke", file=sys.stderr)
                return 1
            if not revoke_token(path, args.name):
                print(f"error: there is no token named {args.name!r}", file=sys.stderr)
                return 1
            print(f"Token {args.name!r} revoked.")
            return 0
        name = args.name
        if name is None:
            name = DEFAULT_TOKEN_NAME
            print(
                f"No NAME given, so the token is called {name!r}; "
                "'fit-converter create-token NAME' sets a label.",
                file=sys.stderr,
            )
        token = create_token(path, name)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {path}: {error}", file=sys.stderr)
        return 1

    print(token)
    print(
        f"API token {name!r} created. It is shown only now; send it as "
        "'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0


def add_subcommands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``set-password`` and ``create-token`` on the ``fit-converter`` parser."""
    password = commands.add_parser("set-password", help="set the web app's owner password")
    password.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    password.set_defaults(handler=set_password)

    token = commands.add_parser("create-token", help="create an API token (or list, revoke)")
    token.add_argument(
        "name", nargs="?", help=f"label of the token (default: {DEFAULT_TOKEN_NAME})"
    )
    token.add_argument("--list", action="store_true", help="list token names instead")
    token.add_argument("--revoke", action="store_true", help="revoke the token called NAME")
    token.set_defaults(handler=manage_tokens)
