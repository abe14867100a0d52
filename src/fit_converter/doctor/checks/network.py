"""Checks of the firewall (ufw) and of the clock."""

from __future__ import annotations

import re

from fit_converter.doctor.checks.common import sudo
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result

#: A clock before this year is certainly wrong. A Raspberry Pi has no battery-backed
#: clock, so it starts from its last saved time until NTP sets it.
EARLIEST_PLAUSIBLE_YEAR = 2025

_PORT_RULE = re.compile(r"^(?P<ports>[\d,:]+)(?:/(?P<protocol>tcp|udp))?$")


def _allowed_targets(status_text: str) -> list[str]:
    """Return the "To" column of every ALLOW or LIMIT rule of ``ufw status``."""
    targets = []
    for line in status_text.splitlines():
        match = re.match(r"^(?P<to>.+?)\s{2,}(?P<action>ALLOW|LIMIT)(?: IN)?\s", line + " ")
        if match:
            targets.append(match.group("to").removesuffix(" (v6)").strip())
    return targets


def _parse_ports(spec: str) -> set[int]:
    """Return the TCP ports of a spec such as ``22``, ``443/tcp`` or ``80,443/tcp``."""
    match = _PORT_RULE.match(spec.strip())
    if match is None or match.group("protocol") == "udp":
        return set()
    ports: set[int] = set()
    for part in match.group("ports").split(","):
        low, _, high = part.partition(":")
        ports.update(range(int(low), int(high or low) + 1))
    return ports


def _ports_of(context: Context, target: str) -> set[int]:
    """Return the TCP ports a rule target opens: a port list or an application profile."""
    if _PORT_RULE.match(target):
        return _parse_ports(target)

    # ``ufw app info`` lists one spec per indented line after "Port:" (one entry) or
    # "Ports:" (several), as in "Ports:\n  80,443/tcp".
    completed = context.command("ufw", "app", "info", target)
    ports: set[int] = set()
    listing = False
    for line in completed.stdout.splitlines():
        if re.match(r"^Ports?:", line):
            listing = True
        elif listing and line.startswith((" ", "\t")) and line.strip():
            ports |= _parse_ports(line)
        elif listing:
            break
    return ports


def check_firewall(context: Context) -> Result:
    """Check that ufw is active and allows SSH (22/tcp) and HTTPS (443/tcp)."""
    enable = " && ".join(
        sudo(context, command)
        for command in ("ufw allow OpenSSH", "ufw allow 443/tcp", "ufw --force enable")
    )
    if not context.is_root:
        return Result.cannot_check("'ufw status' needs root", context.as_root_hint())
    try:
        completed = context.command("ufw", "status")
    except FileNotFoundError:
        return Result.cannot_check(
            "ufw is not installed", f"Install and enable it: apt install ufw && {enable}"
        )
    if completed.returncode != 0:
        return Result.cannot_check(
            f"'ufw status' failed: {completed.stderr.strip() or completed.stdout.strip()}"
        )
    if "Status: active" not in completed.stdout:
        return Result.error("the firewall (ufw) is not active", f"Enable it: {enable}")

    open_ports: set[int] = set()
    for target in _allowed_targets(completed.stdout):
        open_ports |= _ports_of(context, target)
    missing = [
        name
        for name, port in (("SSH (22/tcp)", 22), ("HTTPS (443/tcp)", 443))
        if port not in open_ports
    ]
    if missing:
        commands = []
        if 22 not in open_ports:
            commands.append(sudo(context, "ufw allow OpenSSH"))
        if 443 not in open_ports:
            commands.append(sudo(context, "ufw allow 443/tcp"))
        return Result.error(
            f"ufw is active but does not allow {' or '.join(missing)}",
            " && ".join(commands),
            [completed.stdout.strip()],
        )
    return Result.ok("ufw is active and allows SSH and HTTPS", [completed.stdout.strip()])


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _container_name(context: Context) -> str | None:
    """Return the container technology this runs in (``systemd-nspawn``, ``lxc``...), or None."""
    try:
        completed = context.command("systemd-detect-virt", "--container")
    except FileNotFoundError:
        return None
    name = completed.stdout.strip()
    if completed.returncode != 0 or not name or name == "none":
        return None
    return name


def check_clock(context: Context) -> Result:
    """Check that the clock is plausible and synchronised by NTP."""
    now = context.now()
    fix = (
        sudo(context, "timedatectl set-ntp true")
        + " && "
        + sudo(context, "systemctl restart systemd-timesyncd")
    )
    if now.year < EARLIEST_PLAUSIBLE_YEAR:
        return Result.error(
            f"the clock reads {now:%Y-%m-%d %H:%M} UTC, which cannot be right",
            f"Check the network, then {fix}",
        )
    try:
        completed = context.command("timedatectl", "show", "--property=NTPSynchronized", "--value")
    except FileNotFoundError:
        return Result.cannot_check(
            f"timedatectl is not installed; the clock reads {now:%Y-%m-%d %H:%M} UTC"
        )
    answer = completed.stdout.strip()
    if completed.returncode != 0 or answer not in ("yes", "no"):
        return Result.cannot_check(
            f"timedatectl cannot ask systemd ({_first_line(completed.stderr) or 'no answer'}); "
            f"the clock reads {now:%Y-%m-%d %H:%M} UTC"
        )
    if answer == "no":
        container = _container_name(context)
        if container:
            # systemd-timesyncd does not run in containers: the host's kernel keeps time.
            return Result.ok(
                f"running in a {container} container, whose clock is the host's "
                f"({now:%Y-%m-%d %H:%M} UTC); synchronise the host's clock instead"
            )
        return Result.warning(
            "the clock is not synchronised with NTP, so timestamps in logs may drift",
            f"{fix}; then 'timedatectl timesync-status' shows the server",
        )
    return Result.ok(f"clock synchronised with NTP ({now:%Y-%m-%d %H:%M} UTC)")
