"""Command line of ``python -m fit_converter.doctor`` and ``fit-converter doctor``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fit_converter.doctor.checks import all_checks
from fit_converter.doctor.context import APP_URL, CADDYFILE, build_context, caddy_site_name
from fit_converter.doctor.framework import DEFAULT_TIMEOUT, GROUPS, exit_code, run_checks
from fit_converter.doctor.report import write_json, write_text

DESCRIPTION = (
    "Check that the fit-converter appliance is healthy and print the command that fixes "
    "each problem. Exit status: 0 all ok, 1 warnings, 2 errors."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add doctor's options to ``parser`` (its own or the ``doctor`` subcommand's)."""
    parser.add_argument("--json", action="store_true", help="print JSON (see doctor/schema.json)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print each check's details and duration"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of each check (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this group ({', '.join(GROUPS)}) or check id; repeatable",
    )
    parser.add_argument(
        "--env-file",
        action="append",
        type=Path,
        metavar="FILE",
        help="read settings from this env file; repeatable "
        "(default: /etc/fit-converter/app.env and watcher.env if they exist)",
    )
    parser.add_argument(
        "--service-user",
        metavar="USER",
        help="user the services run as (default: fitconv if it exists, else you)",
    )
    parser.add_argument(
        "--app-url", default=APP_URL, help=f"the app's address (default: {APP_URL})"
    )
    parser.add_argument(
        "--https-host",
        help="host name Caddy serves, sent as TLS server name (default: the first site "
        "address in /etc/caddy/Caddyfile, else localhost)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks and print the report; return the exit status."""
    if args.timeout <= 0:
        print(
            f"fit-converter doctor: invalid --timeout {args.timeout}: expected a positive number "
            "of seconds",
            file=sys.stderr,
        )
        return 2
    context = build_context(env_file_paths=args.env_file, service_user=args.service_user)
    context.app_url = args.app_url
    context.https_host = args.https_host or caddy_site_name(CADDYFILE) or "localhost"
    context.command_timeout = max(args.timeout - 0.5, 0.5)

    checks = all_checks()
    if args.only:
        selected = set(args.only)
        checks = [check for check in checks if check.group in selected or check.id in selected]
        if not checks:
            print(
                f"fit-converter doctor: no check matches --only {', '.join(args.only)}",
                file=sys.stderr,
            )
            return 2

    outcomes = run_checks(checks, context, args.timeout)
    try:
        if args.json:
            write_json(outcomes, context, sys.stdout)
        else:
            write_text(
                outcomes, context, sys.stdout, verbose=args.verbose, colour=sys.stdout.isatty()
            )
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (e.g. `| head`) left early. The exit code still reports the result.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    return exit_code(outcomes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fit_converter.doctor", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
