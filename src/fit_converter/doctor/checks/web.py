"""Checks of the web app on 127.0.0.1:8080 and of Caddy's HTTPS on port 443."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import urllib.error
import urllib.parse

from fit_converter.doctor.checks.common import age_text, sudo
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result

#: TCP state code of a listening socket in /proc/net/tcp.
TCP_LISTEN = "0A"

#: Warn when less than this share of a certificate's lifetime is left. Caddy renews at
#: one third, so by one fifth a renewal has been failing for a while.
CERTIFICATE_WARN_FRACTION = 0.2


def check_readyz(context: Context) -> Result:
    """Check that the app returns 200 on /readyz."""
    url = context.app_url.rstrip("/") + "/readyz"
    restart = sudo(context, "systemctl restart fit-converter-app")
    try:
        status, body = context.http_get(url, context.command_timeout)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Result.error(
            f"nothing answers at {url} ({reason})",
            f"Start the app ({restart}) and read journalctl -u fit-converter-app -n 50",
        )
    first_line = body.strip().splitlines()[0][:200] if body.strip() else ""
    if status == 200:
        return Result.ok(f"{url} answers 200", [first_line] if first_line else [])
    if status == 404:
        return Result.warning(
            f"{url} answers 404: this app version has no readiness endpoint",
            f"Update the package: {sudo(context, 'apt install --only-upgrade fit-converter')}",
        )
    return Result.error(
        f"{url} answers {status}: {first_line or 'no reason given'}",
        f"The reason names the part that is not ready; see the other checks, then {restart}",
    )


def _decode_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Decode an address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[index : index + 4][::-1] for index in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_addresses(context: Context, port: int) -> list[str]:
    """Return every local address with a listening TCP socket on ``port``."""
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (context.proc / "net" / table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_LISTEN:
                continue
            address, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) == port:
                found.append(str(_decode_address(address)))
    return found


def _is_loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


def check_listen(context: Context) -> Result:
    """Check that the app listens on loopback only, so only Caddy can reach it."""
    parsed = urllib.parse.urlsplit(context.app_url)
    port = parsed.port or 80
    try:
        addresses = listening_addresses(context, port)
    except OSError as error:
        return Result.cannot_check(f"cannot read {context.proc}/net/tcp ({error})")
    if not addresses:
        return Result.cannot_check(f"nothing listens on port {port} (see web.readyz)")
    exposed = sorted({address for address in addresses if not _is_loopback(address)})
    if exposed:
        return Result.error(
            f"port {port} is open on {', '.join(exposed)}: other machines can reach the app "
            "without HTTPS",
            "Bind the app to 127.0.0.1 only: run 'systemctl cat fit-converter-app', remove any "
            f"other --host or --bind, then {sudo(context, 'systemctl restart fit-converter-app')}",
        )
    return Result.ok(f"port {port} listens on {', '.join(sorted(set(addresses)))} only")


def _fetch_over_tls(context: Context) -> tuple[bytes, str]:
    """Return the server's certificate (DER) and the status line of ``GET /readyz``."""
    tls = ssl.create_default_context()
    # Caddy's own local CA is not in the system store. The check reads the certificate's
    # dates and does not rely on the connection being trusted.
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    address = ("127.0.0.1", context.https_port)
    with (
        socket.create_connection(address, context.command_timeout) as raw,
        tls.wrap_socket(raw, server_hostname=context.https_host) as wrapped,
    ):
        certificate = wrapped.getpeercert(binary_form=True)
        if not certificate:
            raise ssl.SSLError("the server sent no certificate")
        request = (
            f"GET /readyz HTTP/1.1\r\nHost: {context.https_host}\r\n"
            "User-Agent: fit-converter-doctor\r\nConnection: close\r\n\r\n"
        )
        status_line = ""
        try:
            wrapped.sendall(request.encode("ascii"))
            status_line = wrapped.recv(4096).decode("latin-1").partition("\r\n")[0]
        except OSError:
            pass
    return certificate, status_line


def check_https(context: Context) -> Result:
    """Check that Caddy accepts TLS on port 443 with a certificate not near expiry."""
    caddy_installed = shutil.which("caddy") is not None or context.caddy_binary.exists()
    restart = sudo(context, "systemctl restart caddy")
    try:
        der, status_line = _fetch_over_tls(context)
    except ConnectionRefusedError:
        if not caddy_installed:
            return Result.cannot_check(
                "Caddy is not installed and nothing listens on port "
                f"{context.https_port} (a local run without HTTPS)"
            )
        return Result.error(
            f"Caddy does not answer on port {context.https_port}",
            f"{restart}, then read journalctl -u caddy -n 50",
        )
    except (ssl.SSLError, OSError) as error:
        return Result.error(
            f"TLS handshake with 127.0.0.1:{context.https_port} for {context.https_host} failed "
            f"({error})",
            "Check that the site address in /etc/caddy/Caddyfile matches the name given to "
            f"doctor --https-host, then {restart}",
        )

    try:
        # Imported here so that a broken native library fails this check only.
        from cryptography import x509
    except ImportError as error:
        return Result.error(
            f"cannot read the certificate: {error}",
            f"Reinstall the package: {sudo(context, 'apt install --reinstall fit-converter')}",
        )
    certificate = x509.load_der_x509_certificate(der)
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    left = not_after - context.now()
    lifetime = not_after - not_before
    subject = certificate.subject.rfc4514_string()
    issuer = certificate.issuer.rfc4514_string()
    details = [
        f"subject: {subject}",
        f"issuer: {issuer}",
        f"valid until {not_after.isoformat()}",
        f"GET https://{context.https_host}/readyz: {status_line or 'no answer'}",
    ]

    if left <= dt.timedelta(0):
        return Result.error(
            f"the HTTPS certificate expired {age_text(-left.total_seconds())} ago",
            f"Caddy renews certificates itself; read why it failed in journalctl -u caddy -n 100, "
            f"then {restart}",
            details,
        )
    if left < lifetime * CERTIFICATE_WARN_FRACTION:
        return Result.warning(
            f"the HTTPS certificate expires in {age_text(left.total_seconds())} and has not "
            "been renewed",
            f"Read why the renewal fails in journalctl -u caddy -n 100, then {restart}",
            details,
        )
    status_words = status_line.split()
    if len(status_words) >= 2 and status_words[1].startswith("5"):
        return Result.warning(
            f"Caddy answers on port {context.https_port}, but /readyz through it returns "
            f"{' '.join(status_words[1:])}",
            "Caddy cannot reach the app or the app is not ready; see web.readyz.",
            details,
        )
    return Result.ok(
        f"Caddy answers on port {context.https_port}; certificate valid for "
        f"{age_text(left.total_seconds())}",
        details,
    )
