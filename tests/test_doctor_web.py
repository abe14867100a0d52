"""doctor's web checks against real loopback servers: /readyz, addresses and TLS."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from doctor_helpers import make_context
from fit_converter.doctor.checks.web import check_https, check_listen, check_readyz
from fit_converter.doctor.context import caddy_site_name
from fit_converter.doctor.framework import Status
from helpers import free_port, http_ok, start_module, stop, wait_for


class _ReadyHandler(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"ready\n"

    def do_GET(self) -> None:
        code = self.status if self.path == "/readyz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def app_server() -> Iterator[tuple[str, type[_ReadyHandler]]]:
    handler = type("Handler", (_ReadyHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_readyz_ready(tmp_path: Path, app_server: tuple[str, type[_ReadyHandler]]) -> None:
    context = make_context(tmp_path)
    context.app_url = app_server[0]
    result = check_readyz(context)
    assert result.status is Status.OK
    assert result.message.endswith("/readyz answers 200")


def test_readyz_not_ready(tmp_path: Path, app_server: tuple[str, type[_ReadyHandler]]) -> None:
    url, handler = app_server
    handler.status = 503
    handler.body = b"watcher heartbeat is stale\n"
    context = make_context(tmp_path)
    context.app_url = url
    result = check_readyz(context)
    assert result.status is Status.ERROR
    assert "answers 503: watcher heartbeat is stale" in result.message


def test_readyz_nothing_listening(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.app_url = f"http://127.0.0.1:{free_port()}"
    result = check_readyz(context)
    assert result.status is Status.ERROR
    assert result.message.startswith("nothing answers at")
    assert result.hint is not None
    assert "systemctl restart fit-converter-app" in result.hint


def _fake_proc_net(root: Path, tcp: str, tcp6: str = "") -> Path:
    proc = root / "proc"
    (proc / "net").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    (proc / "net" / "tcp").write_text(header + tcp)
    (proc / "net" / "tcp6").write_text(header + tcp6)
    return proc


def test_listen_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        context = make_context(tmp_path)
        context.app_url = f"http://127.0.0.1:{port}"
        result = check_listen(context)
    assert result.status is Status.OK
    assert result.message == f"port {port} listens on 127.0.0.1 only"


def test_listen_on_every_address(tmp_path: Path) -> None:
    # 0.0.0.0:8080 in IPv4 and [::]:8080 in IPv6, as a gunicorn bound to all addresses shows.
    context = make_context(tmp_path)
    context.proc = _fake_proc_net(
        tmp_path,
        "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000\n"
        "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000\n",
        "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A\n",
    )
    result = check_listen(context)
    assert result.status is Status.ERROR
    assert "port 8080 is open on 0.0.0.0, ::" in result.message


def test_listen_ipv6_loopback(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc_net(
        tmp_path,
        "",
        "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A\n",
    )
    result = check_listen(context)
    assert result.status is Status.OK
    assert "::1" in result.message


def test_listen_nothing(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc_net(tmp_path, "")
    assert check_listen(context).status is Status.SKIPPED


def _certificate(tmp_path: Path, not_before: dt.datetime, not_after: dt.datetime) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fit-converter.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    return server_context


def _serve_tls_once(
    server_context: ssl.SSLContext, status: str = "200 OK"
) -> tuple[int, threading.Thread]:
    """Serve one HTTPS request on a free port, answering ``status``, as Caddy would."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


@pytest.mark.parametrize(
    ("days_before", "days_after", "status", "phrase"),
    [
        (10, 80, Status.OK, "certificate valid for 80 days"),
        (85, 5, Status.WARNING, "expires in 5 days and has not been renewed"),
        (95, -5, Status.ERROR, "expired 5 days ago"),
    ],
)
def test_https_certificate_expiry(
    tmp_path: Path, days_before: int, days_after: int, status: Status, phrase: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    server_context = _certificate(
        tmp_path, now - dt.timedelta(days=days_before), now + dt.timedelta(days=days_after, hours=1)
    )
    port, thread = _serve_tls_once(server_context)
    context = make_context(tmp_path)
    context.https_port = port
    result = check_https(context)
    thread.join(10)
    assert result.status is status, result.message
    assert phrase in result.message
    assert any("CN=fit-converter.test" in line for line in result.details)
    assert "GET https://localhost/readyz: HTTP/1.1 200 OK" in result.details


def test_https_upstream_down(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    server_context = _certificate(tmp_path, now, now + dt.timedelta(days=90))
    port, thread = _serve_tls_once(server_context, "502 Bad Gateway")
    context = make_context(tmp_path)
    context.https_port = port
    result = check_https(context)
    thread.join(10)
    assert result.status is Status.WARNING
    assert result.message.endswith("/readyz through it returns 502 Bad Gateway")


@pytest.mark.parametrize(
    ("caddyfile", "expected"),
    [
        (
            "# appliance\nfitness.example.org {\n\treverse_proxy 127.0.0.1:8080\n}\n",
            "fitness.example.org",
        ),
        ("{\n\temail a@b.c\n}\n\nhttps://pi.local:443, localhost {\n}\n", "pi.local"),
        ("(common) {\n\tencode gzip\n}\n:443 {\n\ttls internal\n}\n", None),
        ("{$SITE_ADDRESS} {\n}\n", None),
    ],
)
def test_caddy_site_name(tmp_path: Path, caddyfile: str, expected: str | None) -> None:
    path = tmp_path / "Caddyfile"
    path.write_text(caddyfile)
    assert caddy_site_name(path) == expected


def test_caddy_site_name_missing_file(tmp_path: Path) -> None:
    assert caddy_site_name(tmp_path / "Caddyfile") is None


def test_https_caddy_absent(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.https_port = free_port()
    context.caddy_binary = tmp_path / "no-caddy"
    result = check_https(context)
    if result.status is Status.SKIPPED:
        assert "Caddy is not installed" in result.message
    else:  # caddy is on PATH on this machine
        assert result.status is Status.ERROR


def test_https_caddy_down(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.https_port = free_port()
    context.caddy_binary = Path(__file__)  # any existing file plays the role of /usr/bin/caddy
    result = check_https(context)
    assert result.status is Status.ERROR
    assert result.message == f"Caddy does not answer on port {context.https_port}"


def test_https_not_tls(
    tmp_path: Path,
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_plain_http() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer_plain_http, daemon=True)
    thread.start()
    context = make_context(tmp_path)
    context.https_port = port
    result = check_https(context)
    thread.join(10)
    assert result.status is Status.ERROR
    assert "TLS handshake" in result.message


def test_real_app_on_loopback(tmp_path: Path) -> None:
    """Run the real gunicorn app and check its readiness and its listening address."""
    port = free_port()
    env = {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c",
    }
    # A fresh watcher heartbeat, so that /readyz has nothing to report.
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "watcher-heartbeat.json").write_text(
        json.dumps(
            {
                "unix": time.time(),
                "time": "now",
                "pid": 1,
                "version": "test",
                "mode": "inotify",
                "pending": 0,
                "paused": False,
                "last_result": None,
            }
        )
    )
    app = start_module(
        "fit_converter.app", ["--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "app.log"
    )
    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), what="gunicorn to answer")
        context = make_context(tmp_path)
        context.app_url = f"http://127.0.0.1:{port}"
        readiness = check_readyz(context)
        address = check_listen(context)
    finally:
        stop(app)

    assert readiness.status is Status.OK, readiness.message
    assert address.status is Status.OK
    assert address.message == f"port {port} listens on 127.0.0.1 only"
