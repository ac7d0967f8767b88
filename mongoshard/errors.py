"""What may reach the user: the one exception family, and redaction of every secret from every message.

Redaction works two ways, because neither is enough alone:

* by parsing: every ``mongodb://`` or ``mongodb+srv://`` URI in a text loses
  its user information (everything up to the last ``@`` of the URI, so an
  unescaped ``/`` or ``@`` in a password cannot cut it short) and the value of
  every option that carries a secret (``password``, ``authMechanismProperties``
  with its AWS session token, ``tlsCertificateKeyFilePassword``, ...);
* by value: secrets this process has seen (the password of a URI it was
  given, a generated admin password or keyfile) are registered with
  ``remember_secret`` and scrubbed wherever they appear, which covers driver
  messages that quote a fragment of a URI rather than the URI itself.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, quote_plus, unquote_plus

__all__ = ["MongoshardError", "DeclarationError", "Interrupted", "redact", "redact_message", "redact_uri", "remember_secret",
           "remember_uri_secrets", "brief", "REDACTED"]

REDACTED = "***"
# Shorter secrets are not scrubbed by value (they would mangle ordinary words); URIs are still redacted by parsing.
_MIN_SECRET_LENGTH = 4
# A URI runs to the next white space or quoting character.  "mongodb:/" and "mongodb/" too: a URI passed where a
# path was expected comes back from pathlib with one slash, and a typo may drop the colon.
_URI = re.compile(r"mongodb(?:\+srv)?:?/+[^\s'\"<>`]*", re.IGNORECASE)
_SCHEME = re.compile(r"^mongodb(?:\+srv)?:?/+", re.IGNORECASE)
# "password=hunter2" or "token: abc" in any text, such as a user's own exception message.
_ASSIGNED_SECRET = re.compile(r"\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)([^\s,;&'\")]+)", re.IGNORECASE)
# Option names whose values are secrets (matched case-insensitively, anywhere in the name).
_SECRET_OPTION = re.compile(r"(pass|token|secret|propert|credential|key(?!file\b))", re.IGNORECASE)
_OPTION = re.compile(r"([?&;])([^=&;#]+)=([^&;#]*)")

_secrets: set[str] = set()
_lock = threading.Lock()


class MongoshardError(Exception):
    """Bad input or an unreachable cluster: the message says what is wrong and how to fix it."""


class DeclarationError(MongoshardError):
    """A shard key declaration that MongoDB would reject or that cannot be resolved."""


class Interrupted(BaseException):
    """A stop signal arrived (SIGINT, SIGTERM, SIGHUP): like KeyboardInterrupt, it unwinds every rollback on its way
    out, and code that runs the user's modules lets it through.  ``stopped`` names what a rollback stopped."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.stopped: tuple[str, ...] = ()


def remember_secret(value: str | None) -> None:
    """Scrub ``value`` (and its URI-escaped forms) from every text redacted from now on."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update(form for form in {value, quote_plus(value), quote(value, safe=""), unquote_plus(value)}
                        if len(form) >= _MIN_SECRET_LENGTH)


def remember_uri_secrets(uri: str) -> None:
    """Register the secrets of ``uri`` as written, however malformed: its user information, password and secret options."""
    scheme_free = _SCHEME.sub("", uri)
    if "@" in scheme_free:
        userinfo = scheme_free.rsplit("@", 1)[0]
        remember_secret(userinfo)
        if ":" in userinfo:
            remember_secret(userinfo.split(":", 1)[1])
    else:
        authority = re.split(r"[/?]", scheme_free, maxsplit=1)[0]
        if not all(_HOST.fullmatch(host) for host in authority.split(",")):
            remember_secret(authority)  # "alice:pw127.0.0.1:40102": an "@" lost, the password inside
    for _, name, value in _OPTION.findall(scheme_free):
        if _SECRET_OPTION.search(name):
            remember_secret(value)
            for pair in unquote_plus(value).split(","):  # AWS_SESSION_TOKEN:abc,SERVICE_NAME:x: the values, not the names
                remember_secret(pair.split(":", 1)[1] if ":" in pair else pair)


def redact_uri(text: str) -> str:
    """``text`` with the credentials and secret options of every MongoDB URI in it replaced by ``***``."""
    return _URI.sub(lambda match: _redacted_uri(match.group(0)), text)


_HOST = re.compile(r"(\[[0-9A-Fa-f:.]*\]|[\w.%-]*)(:\d*)?")


def _redacted_uri(uri: str) -> str:
    scheme = match.group(0) if (match := _SCHEME.match(uri)) else ""
    rest = uri[len(scheme):]
    if "@" in rest:
        rest = f"{REDACTED}@" + rest.rsplit("@", 1)[1]
    else:
        # No "@", yet not host[:port] entries ("alice:pw127.0.0.1:40102", the "@" lost): what looks like user
        # information cannot be told from a host, so the whole host list is hidden.
        authority, separator, tail = (re.split(r"([/?])", rest, maxsplit=1) + ["", ""])[:3]
        if not all(_HOST.fullmatch(host) for host in authority.split(",")):
            rest = f"{REDACTED}{separator}{tail}"
    rest = _OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}" if _SECRET_OPTION.search(m.group(2)) else m.group(0),
                       rest)
    return f"{scheme}{rest}"


def redact(text: str) -> str:
    """``text`` without any URI credential, secret URI option or remembered secret: safe for any output.  Remembered
    secrets go first: a password holding a space or a quote ends a URI early for the parser, which would otherwise
    rewrite half of it and leave the rest unmatched."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return redact_uri(text)


def redact_message(text: str) -> str:
    """A message built from an exception, redacted, and also without ``password=...`` pairs (a user's own error text
    may hold one); not for data output, where "password = x" may be content."""
    return _ASSIGNED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", redact(text))


def brief(exc: BaseException) -> str:
    """An exception's message as one redacted line: drivers append topology dumps and "full error" documents."""
    try:
        text = redact_message(str(exc))
    except Exception:  # an exception whose __str__ itself fails (user code): its type says enough
        return type(exc).__name__.split(", full error")[0].split(", Topology Description")[0]
    text = re.sub(r" \(configured timeouts: [^)]*\)", "", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
