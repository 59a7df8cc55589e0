#!/usr/bin/env python3
"""A departmental application in Python, signed in through Tessera with Authlib.

Authlib's OAuth2Session runs the code flow with PKCE; the ID token and the back-channel logout
token (OpenID Connect Back-Channel Logout 1.0 §2.6) are checked with joserfc, Authlib's JOSE
library. Driven by tests/tests/e2e/stacks.rs; docs/integrating.md explains each setting.

    ISSUER=http://127.0.0.1:8080 CLIENT_ID=pyapp CLIENT_SECRET=... \\
        APP_BASE=http://127.0.0.1:3001 python3 app.py

Routes: GET /login, GET /callback, GET /session (JSON), POST /backchannel-logout.
"""

import json
import os
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGS = ["ES256", "RS256"]

try:
    ISSUER = os.environ["ISSUER"]
    CLIENT_ID = os.environ["CLIENT_ID"]
    CLIENT_SECRET = os.environ["CLIENT_SECRET"]
    APP_BASE = os.environ["APP_BASE"]
except KeyError as missing:
    sys.exit(f"set {missing.args[0]} (ISSUER, CLIENT_ID, CLIENT_SECRET, APP_BASE)")
REDIRECT_URI = APP_BASE + "/callback"
COOKIE = "sid_" + CLIENT_ID

META = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
if META["issuer"] != ISSUER:  # OpenID Connect Discovery 1.0 §4.3
    sys.exit(f"the provider calls itself {META['issuer']}, not {ISSUER}")


def fetch_keys():
    return KeySet.import_key_set(requests.get(META["jwks_uri"], timeout=10).json())


KEYS = fetch_keys()
# Local sessions by cookie value: {"pending": {...}} or {"user": {...}}. One process.
SESSIONS = {}
LOCK = threading.Lock()


def oauth():
    return OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def verify(token, **expected):
    """A JWT signed by the provider, with iss and aud checked; refetches the keys once when
    the provider rotated them."""
    global KEYS
    try:
        decoded = jwt.decode(token, KEYS, algorithms=ALGS)
    except Exception:
        KEYS = fetch_keys()
        decoded = jwt.decode(token, KEYS, algorithms=ALGS)
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": CLIENT_ID},
        "iat": {"essential": True},
    }
    for name, value in expected.items():
        options[name] = {"essential": True} if value is None else {"essential": True, "value": value}
    jwt.JWTClaimsRegistry(leeway=60, **options).validate(decoded.claims)
    return decoded


class App(BaseHTTPRequestHandler):
    def cookie(self):
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/login":
            self.login()
        elif path == "/callback":
            self.callback()
        elif path == "/session":
            with LOCK:
                user = SESSIONS.get(self.cookie(), {}).get("user")
            body = {"logged_in": True, **user} if user else {"logged_in": False}
            self.answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        else:
            self.answer(404, b"not found")

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path == "/backchannel-logout":
            self.backchannel_logout()
        else:
            self.answer(404, b"not found")

    def login(self):
        verifier = generate_token(48)
        nonce = generate_token(32)
        url, state = oauth().create_authorization_url(
            META["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        sid = secrets.token_urlsafe(32)
        with LOCK:
            SESSIONS[sid] = {"pending": {"state": state, "verifier": verifier, "nonce": nonce}}
        self.answer(
            303,
            headers={"Location": url, "Set-Cookie": f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"},
        )

    def callback(self):
        with LOCK:
            session = SESSIONS.get(self.cookie())
            pending = session.pop("pending", None) if session else None
        if not pending:
            return self.answer(400, b"no login in progress")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        if query.get("state") != pending["state"]:
            return self.answer(400, b"state mismatch")
        token = oauth().fetch_token(
            META["token_endpoint"],
            authorization_response=APP_BASE + self.path,
            code_verifier=pending["verifier"],
            state=pending["state"],
        )
        claims = verify(token["id_token"], nonce=pending["nonce"]).claims
        with LOCK:
            session["user"] = {"sub": claims["sub"], "sid": claims.get("sid")}
        self.answer(303, headers={"Location": "/session"})

    def backchannel_logout(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        try:
            tokens = form.get("logout_token", [])
            if len(tokens) != 1:
                raise ValueError("exactly one logout_token is expected")
            decoded = verify(tokens[0], jti=None)
            if decoded.header.get("typ") != "logout+jwt":
                raise ValueError("not a logout token (typ)")
            claims = decoded.claims
            if not isinstance(claims.get("events", {}).get(BACKCHANNEL_EVENT), dict):
                raise ValueError("not a back-channel logout event")
            if "nonce" in claims:
                raise ValueError("a logout token carries no nonce")
            sid, sub = claims.get("sid"), claims.get("sub")
            if not sid and not sub:
                raise ValueError("neither sid nor sub")
        except Exception as e:  # any failed check is the same 400 (§2.8)
            body = {"error": "invalid_request", "error_description": str(e)}
            return self.answer(400, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with LOCK:
            for key, s in list(SESSIONS.items()):
                user = s.get("user")
                if user and (user["sid"] == sid if sid else user["sub"] == sub):
                    del SESSIONS[key]
        self.answer(200)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    url = urllib.parse.urlsplit(APP_BASE)
    server = ThreadingHTTPServer((url.hostname, url.port), App)
    print("READY", flush=True)
    server.serve_forever()
