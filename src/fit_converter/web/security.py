"""Response headers and cookie settings for an app exposed to the internet through Caddy."""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sansio.app import App
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

#: Everything from this app only, no inline script or style, never inside a frame.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Flask-WTF rejects HTTPS form posts without a same-origin Referer, so the
    # policy must send it to this origin; "no-referrer" would break every form.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class ProxyAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request came in over HTTPS.

    Behind Caddy every browser request is HTTPS (ProxyFix reads X-Forwarded-Proto), so
    the cookie is always Secure there. A direct request to 127.0.0.1 over plain HTTP
    (a local run, the tests) still gets a cookie the browser will send back.
    """

    def get_cookie_secure(self, app: App) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def add_security_headers(response: Response) -> Response:
    """Set the headers of SECURITY_HEADERS and keep private pages out of caches."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def secure_app(app: Flask) -> None:
    """Trust one proxy's X-Forwarded-* headers and add the security headers."""
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=0
    )
    app.session_interface = ProxyAwareSessionInterface()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="fit_converter_session",
    )
    app.after_request(add_security_headers)
