"""doctor's network checks: the ufw firewall and the clock, through a scripted runner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from doctor_helpers import ScriptedRunner, completed, fixed_now, make_context
from fit_converter.doctor.checks.network import check_clock, check_firewall
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Status

UFW_ACTIVE = """Status: active

To                         Action      From
--                         ------      ----
OpenSSH                    ALLOW       Anywhere
443/tcp                    ALLOW       Anywhere
OpenSSH (v6)               ALLOW       Anywhere (v6)
443/tcp (v6)               ALLOW       Anywhere (v6)
"""

UFW_APP_INFO_OPENSSH = """Profile: OpenSSH
Title: Secure shell server, an rshd replacement
Description: OpenSSH is a free implementation of the Secure Shell protocol.

Port:
  22/tcp
"""


def _ufw(tmp_path: Path, status: str, uid: int = 0) -> Context:
    runner = ScriptedRunner(
        {
            ("ufw", "status"): completed(status),
            ("ufw", "app", "info", "OpenSSH"): completed(UFW_APP_INFO_OPENSSH),
            ("ufw", "app", "info", "WWW Full"): completed(
                "Profile: WWW Full\nTitle: Web Server (HTTP,HTTPS)\n\nPorts:\n  80,443/tcp\n"
            ),
            ("ufw", "app", "info", "Samba"): completed(
                "Profile: Samba\n\nPorts:\n  137,138/udp\n  139,445/tcp\n"
            ),
        }
    )
    return make_context(tmp_path, runner=runner, uid=uid)


def test_firewall_active_and_open(tmp_path: Path) -> None:
    result = check_firewall(_ufw(tmp_path, UFW_ACTIVE))
    assert result.status is Status.OK
    assert result.message == "ufw is active and allows SSH and HTTPS"


def test_firewall_app_profile_for_https(tmp_path: Path) -> None:
    status = UFW_ACTIVE.replace("443/tcp", "WWW Full")
    assert check_firewall(_ufw(tmp_path, status)).status is Status.OK


def test_firewall_udp_profile_not_https(tmp_path: Path) -> None:
    status = UFW_ACTIVE.replace("443/tcp", "Samba  ")
    result = check_firewall(_ufw(tmp_path, status))
    assert result.status is Status.ERROR
    assert "HTTPS (443/tcp)" in result.message


def test_firewall_https_missing(tmp_path: Path) -> None:
    status = "\n".join(line for line in UFW_ACTIVE.splitlines() if "443" not in line)
    result = check_firewall(_ufw(tmp_path, status))
    assert result.status is Status.ERROR
    assert result.message == "ufw is active but does not allow HTTPS (443/tcp)"
    assert result.hint == "ufw allow 443/tcp"


def test_firewall_ssh_port_range(tmp_path: Path) -> None:
    status = UFW_ACTIVE.replace("OpenSSH", "20:25/tcp")
    assert check_firewall(_ufw(tmp_path, status)).status is Status.OK


def test_firewall_inactive(tmp_path: Path) -> None:
    result = check_firewall(_ufw(tmp_path, "Status: inactive\n"))
    assert result.status is Status.ERROR
    assert result.hint is not None
    assert result.hint.index("ufw allow OpenSSH") < result.hint.index("ufw --force enable")


def test_firewall_needs_root(tmp_path: Path) -> None:
    result = check_firewall(_ufw(tmp_path, UFW_ACTIVE, uid=1000))
    assert result.status is Status.SKIPPED
    assert result.message == "cannot check: 'ufw status' needs root"
    assert result.hint is not None
    assert "sudo fit-converter doctor" in result.hint


def test_firewall_not_installed(tmp_path: Path) -> None:
    result = check_firewall(make_context(tmp_path, runner=ScriptedRunner(), uid=0))
    assert result.status is Status.SKIPPED
    assert result.message == "cannot check: ufw is not installed"


def test_clock_synchronised(tmp_path: Path) -> None:
    runner = ScriptedRunner({"timedatectl": completed("yes\n")})
    assert check_clock(make_context(tmp_path, runner=runner)).status is Status.OK


def test_clock_not_synchronised(tmp_path: Path) -> None:
    runner = ScriptedRunner({"timedatectl": completed("no\n")})
    result = check_clock(make_context(tmp_path, runner=runner))
    assert result.status is Status.WARNING
    assert result.hint is not None
    assert "timedatectl set-ntp true" in result.hint


def test_clock_in_container_is_hosts(tmp_path: Path) -> None:
    runner = ScriptedRunner(
        {"timedatectl": completed("no\n"), "systemd-detect-virt": completed("systemd-nspawn\n")}
    )
    result = check_clock(make_context(tmp_path, runner=runner))
    assert result.status is Status.OK
    assert "systemd-nspawn container" in result.message


def test_clock_outside_container_warns(tmp_path: Path) -> None:
    runner = ScriptedRunner(
        {"timedatectl": completed("no\n"), "systemd-detect-virt": completed("none\n", 1)}
    )
    assert check_clock(make_context(tmp_path, runner=runner)).status is Status.WARNING


def test_clock_implausible(tmp_path: Path) -> None:
    context = make_context(tmp_path, runner=ScriptedRunner({"timedatectl": completed("yes\n")}))
    context.now = fixed_now(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    result = check_clock(context)
    assert result.status is Status.ERROR
    assert "1970-01-01" in result.message


def test_clock_without_systemd(tmp_path: Path) -> None:
    runner = ScriptedRunner(
        {"timedatectl": completed("", 1, "System has not been booted with systemd\nmore\n")}
    )
    result = check_clock(make_context(tmp_path, runner=runner))
    assert result.status is Status.SKIPPED
    assert "System has not been booted with systemd" in result.message
    assert "more" not in result.message


def test_clock_without_timedatectl(tmp_path: Path) -> None:
    result = check_clock(make_context(tmp_path, runner=ScriptedRunner()))
    assert result.status is Status.SKIPPED
    assert "timedatectl is not installed" in result.message
