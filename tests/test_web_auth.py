"""Login, logout, sessions, CSRF, security headers and the password and token commands."""

from __future__ import annotations

import io
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conftest import OWNER_PASSWORD
from fit_converter.cli import main
from fit_converter.config import Settings
from fit_converter.web import auth, create_app
from fit_converter.web.gunicorn_config import gunicorn_options
from fit_converter.web.owner import check_password, write_password
from fit_converter.web.tokens import find_token, load_tokens, tokens_path
from web_support import JSON, csrf_from, csrf_token, log_in

PROTECTED_PAGES = [
    "/",
    "/upload",
    "/history",
    "/history?page=2",
    "/activity/1",
    "/history/1/files/ride.csv",
    "/history/1/outputs.zip",
]


@pytest.mark.parametrize("path", PROTECTED_PAGES)
def test_anonymous_page_redirects_to_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/jobs/1.json", "/activity/1.json"])
def test_anonymous_json_gets_401(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers=JSON)
    assert response.status_code == 401
    assert response.json == {"error": "login required", "login": "/login"}


@pytest.mark.parametrize(
    "path",
    ["/upload", "/history/zip", "/history/1/retry", "/history/1/delete"],
)
def test_anonymous_post_is_rejected(client: FlaskClient, settings: Settings, path: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(path, data={"csrf_token": token, "file": (io.BytesIO(b"x"), "a.fit")})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert not list((settings.state_dir / "uploads").glob("*/*"))


def test_anonymous_post_without_csrf_is_400(client: FlaskClient) -> None:
    response = client.post("/upload", data={"file": (io.BytesIO(b"x"), "a.fit")})
    assert response.status_code == 400


def test_login_page_without_password_explains(settings: Settings) -> None:
    app = create_app(settings)
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    assert b"No password is set yet" in page.data
    assert b"fit-converter set-password" in page.data

    response = client.post(
        "/login", data={"csrf_token": csrf_from(page.data), "password": "anything at all"}
    )
    assert response.status_code == 403
    assert b"No password is set yet" in response.data
    app.extensions["fit_converter"].queue.shutdown()


def test_login_with_wrong_password(client: FlaskClient) -> None:
    response = log_in(client, "not the password")
    assert response.status_code == 401
    assert b"Wrong password." in response.data
    assert client.get("/upload").status_code == 302


def test_login_then_logout(client: FlaskClient) -> None:
    response = log_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/upload"
    page = client.get("/upload")
    assert page.status_code == 200
    assert b"Log out" in page.data

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302
    assert client.get("/upload").status_code == 302


def test_login_follows_local_next_only(client: FlaskClient) -> None:
    cases = {
        "/history?page=1": "/history?page=1",
        "//evil.example/": "/upload",
        "https://evil.example/": "/upload",
        "/\\evil.example": "/upload",
    }
    for target, expected in cases.items():
        client.delete_cookie("fit_converter_session")
        token = csrf_token(client, "/login")
        response = client.post(
            "/login",
            data={"csrf_token": token, "password": OWNER_PASSWORD, "next": target},
        )
        assert response.headers["Location"] == expected, target


def test_login_is_rate_limited(client: FlaskClient) -> None:
    for _ in range(5):
        assert log_in(client, "wrong password").status_code == 401
    limited = log_in(client, "wrong password")
    assert limited.status_code == 429
    assert b"Too many failed attempts" in limited.data
    assert log_in(client).status_code == 429


def test_successful_logins_do_not_count(client: FlaskClient) -> None:
    for _ in range(8):
        client.delete_cookie("fit_converter_session")
        assert log_in(client).status_code == 302


def test_rate_limit_is_per_client_address(client: FlaskClient) -> None:
    for _ in range(6):
        log_in(client, "wrong password")
    token = csrf_token(client, "/login")
    other = client.post(
        "/login",
        data={"csrf_token": token, "password": OWNER_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert other.status_code == 302


def test_session_expires_after_max_age(owner: FlaskClient) -> None:
    assert owner.get("/upload").status_code == 200
    with owner.session_transaction() as session:
        session["login_at"] = time.time() - auth.MAX_SESSION_AGE - 1
    assert owner.get("/upload").status_code == 302


def test_session_cookie_lifetime(web_app: Flask, settings: Settings) -> None:
    assert web_app.permanent_session_lifetime.total_seconds() == settings.session_hours * 3600
    client = web_app.test_client()
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie


def test_new_password_ends_sessions(owner: FlaskClient, settings: Settings) -> None:
    assert owner.get("/upload").status_code == 200
    write_password(settings.password_path, "another long password")
    assert owner.get("/upload").status_code == 302


def test_cookie_secure_behind_https_proxy(client: FlaskClient) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    page = client.get("/login", headers=https)
    assert "Secure" in page.headers["Set-Cookie"]
    plain = client.get("/login")
    assert "Secure" not in plain.headers.get("Set-Cookie", "")


def test_csrf_referrer_check_over_https(client: FlaskClient) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "fit.example.org"}
    token = csrf_from(client.get("/login", headers=https).data)
    data = {"csrf_token": token, "password": OWNER_PASSWORD}

    foreign = client.post(
        "/login", data=data, headers={**https, "Referer": "https://evil.example/login"}
    )
    assert foreign.status_code == 400
    assert b"does not match" in foreign.data

    missing = client.post("/login", data=data, headers=https)
    assert missing.status_code == 400

    same = client.post(
        "/login", data=data, headers={**https, "Referer": "https://fit.example.org/login"}
    )
    assert same.status_code == 302


def test_csrf_token_required_for_upload(owner: FlaskClient) -> None:
    files = {"file": (io.BytesIO(b"x"), "a.fit")}
    assert owner.post("/upload", data=files, headers=JSON).status_code == 400
    files = {"file": (io.BytesIO(b"x"), "a.fit")}
    wrong = owner.post("/upload", data=files, headers={**JSON, "X-CSRFToken": "forged"})
    assert wrong.status_code == 400
    assert "CSRF" in wrong.json["error"]


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/style.css", "/no-such-page"])
def test_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    headers = response.headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    response.close()


def test_pages_have_no_inline_script_or_style(owner: FlaskClient) -> None:
    for path in ["/upload", "/history", "/login"]:
        page = owner.get(path).data.decode()
        assert "<script>" not in page
        assert "<style" not in page
        assert "style=" not in page
        assert "onclick" not in page


def test_private_pages_are_not_cached(owner: FlaskClient) -> None:
    assert owner.get("/upload").headers["Cache-Control"] == "no-store"
    static = owner.get("/static/style.css")
    assert static.headers.get("Cache-Control") != "no-store"
    static.close()


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI at the temporary folders of ``settings``."""
    monkeypatch.setenv("FIT_CONVERTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FIT_CONVERTER_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("FLASK_SECRET_KEY", settings.secret_key)
    return settings


def test_set_password_command(
    cli_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = cli_settings
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine long password\n"))
    assert main(["set-password", "--stdin"]) == 0
    assert "Password set" in capsys.readouterr().out

    stored = settings.password_path.read_text()
    assert "a fine long password" not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    assert stat.S_IMODE(settings.password_path.stat().st_mode) == 0o600
    assert check_password(settings.password_path, "a fine long password")

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["set-password", "--stdin"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert check_password(settings.password_path, "a fine long password")


def test_set_password_keeps_group_mode(settings: Settings) -> None:
    write_password(settings.password_path, "first long password")
    settings.password_path.chmod(0o640)
    write_password(settings.password_path, "second long password")
    assert stat.S_IMODE(settings.password_path.stat().st_mode) == 0o640


def test_create_token_command(cli_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings = cli_settings
    path = tokens_path(settings.state_dir)

    assert main(["create-token", "backup-script"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("fitc_")
    assert token not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = find_token(path, token)
    assert record is not None
    assert record.name == "backup-script"
    assert find_token(path, token + "x") is None

    assert main(["create-token", "backup-script"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["create-token", "--list"]) == 0
    assert "backup-script" in capsys.readouterr().out
    assert main(["create-token", "--revoke", "backup-script"]) == 0
    assert load_tokens(path) == []
    assert main(["create-token", "--revoke", "backup-script"]) == 1


def test_create_token_defaults_and_empty_list(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-token", "--list"]) == 0
    assert "no tokens" in capsys.readouterr().out

    assert main(["create-token"]) == 0
    output = capsys.readouterr()
    assert output.out.strip().startswith("fitc_")
    assert "No NAME given, so the token is called 'default'" in output.err

    assert main(["create-token", "--revoke"]) == 1
    assert "--revoke needs the NAME" in capsys.readouterr().err


def test_gunicorn_options_for_a_pi() -> None:
    options = gunicorn_options("127.0.0.1", 8080, 8, "INFO")
    assert options["bind"] == "127.0.0.1:8080"
    assert options["worker_class"] == "gthread"
    assert options["workers"] == 1
    assert options["threads"] == 8
    assert options["timeout"] >= 160
    if Path("/dev/shm").is_dir():
        assert options["worker_tmp_dir"] == "/dev/shm"


def test_upload_limit_is_flask_max_content_length(settings: Settings) -> None:
    app = create_app(replace(settings, max_upload_bytes=12345))
    assert app.config["MAX_CONTENT_LENGTH"] == 12345
    app.extensions["fit_converter"].queue.shutdown()
