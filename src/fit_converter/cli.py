"""The ``fit-converter`` command: one-off conversions and a local run of the appliance."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from fit_converter import __version__
from fit_converter.config import load_settings
from fit_converter.convert_cli import add_convert_parser
from fit_converter.doctor import cli as doctor_cli
from fit_converter.errors import ConfigError
from fit_converter.web.commands import add_subcommands as add_web_subcommands


def _run(args: argparse.Namespace) -> int:
    """Run the web app and the watcher as child processes until Ctrl-C or SIGTERM."""
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"fit-converter: {error}", file=sys.stderr)
        return 2
    settings.ensure_folders()

    with socket.socket() as probe:
        # SO_REUSEADDR as gunicorn sets it: only a live listener makes the bind fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((args.host, args.port))
        except OSError as error:
            print(
                f"fit-converter: cannot listen on {args.host}:{args.port} ({error.strerror}); "
                "another fit-converter may be running. Stop it, or choose another port: "
                f"'make run PORT={args.port + 1}' or 'fit-converter run --port {args.port + 1}'.",
                file=sys.stderr,
            )
            return 1

    print(f"fit-converter {__version__}: web app at http://{args.host}:{args.port}/upload")
    print(f"  inbox:  {settings.inbox}\n  outbox: {settings.outbox}\n  Ctrl-C stops both.")
    if not settings.password_path.exists():
        print(f"  No web password yet: run '{sys.argv[0]} set-password' to be able to log in.")

    commands = [
        [sys.executable, "-m", "fit_converter.app", "--host", args.host, "--port", str(args.port)],
        [sys.executable, "-m", "fit_converter.watcher"],
    ]
    children = [subprocess.Popen(command) for command in commands]

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    while not stop_requested and all(child.poll() is None for child in children):
        time.sleep(0.2)

    names = ("web app", "watcher")
    for name, child in zip(names, children, strict=True):
        code = child.poll()
        if code is not None and not stop_requested:
            print(
                f"fit-converter: the {name} exited with status {code} (its log is above); "
                "stopping the other process too.",
                file=sys.stderr,
            )
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    failed = [child.returncode for child in children if child.returncode not in (0, -15)]
    return 1 if failed and not stop_requested else 0


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``fit-converter`` command."""
    parser = argparse.ArgumentParser(
        prog="fit-converter",
        description="Convert FIT activity files to CSV, once or as a local web app and "
        "inbox watcher.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    add_convert_parser(commands)

    run = commands.add_parser("run", help="run the web app and the inbox watcher locally")
    run.add_argument(
        "--host",
        default=os.environ.get("FIT_CONVERTER_HOST", "127.0.0.1"),
        help="address the web app listens on (default: FIT_CONVERTER_HOST, else 127.0.0.1)",
    )
    run.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("FIT_CONVERTER_PORT", "8080")),
        help="TCP port of the web app (default: FIT_CONVERTER_PORT, else 8080)",
    )
    run.set_defaults(handler=_run)

    doctor = commands.add_parser("doctor", help="check the appliance and print how to fix it")
    doctor_cli.add_arguments(doctor)
    doctor.set_defaults(handler=doctor_cli.run)
    add_web_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fit-converter`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
