"""Hiding the secrets of a database URL wherever one is shown.

Every place MissionControl shows a database URL (the ``mc runner`` banner,
error messages, ``repr(store)``) passes it through :func:`redact_db_url`,
and every database error it shows through :func:`scrub_secrets`. The rules,
for a URL such as ``postgresql://user:pw@host:5432/db?sslpassword=x``:

* the password in the userinfo becomes ``***``. The userinfo runs to the
  *last* ``@`` before the query, so a password with an unescaped ``@`` is
  hidden whole, even though a URL parser would read part of it as the host;
* the value of every query parameter whose name contains ``password``,
  ``passwd``, ``secret`` or ``token`` (in any case) becomes ``***``;
* a fragment (``#...``) is dropped, and a URL without ``://`` is not shown
  past its scheme: text that does not parse might be anything.

:func:`scrub_secrets` replaces those secrets, and every piece of a password
between ``@`` signs (the part a parser took for a host name), in any text,
such as a driver's error message; pieces shorter than 3 characters are left,
as hiding them would hide ordinary words. Standard library only.
"""

from __future__ import annotations

import urllib.parse

__all__ = ["redact_db_url", "url_secrets", "scrub_secrets"]

_SECRET_PARAMETER_WORDS = ("password", "passwd", "secret", "token")
_MASK = "***"
_MIN_SCRUBBED_LENGTH = 3


def _split(url: str) -> tuple[str, str | None, str, str | None, str] | None:
    """Split ``url`` into scheme, userinfo, host-and-path, query; None if it has no ``://``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None
    rest = rest.partition("#")[0]
    before_query, question, query = rest.partition("?")
    userinfo: str | None = None
    if not before_query.startswith("/") and "@" in before_query:
        userinfo, _, before_query = before_query.rpartition("@")
    return scheme, userinfo, before_query, query if question else None, rest


def _is_secret_parameter(name: str) -> bool:
    name = urllib.parse.unquote_plus(name).lower()
    return any(word in name for word in _SECRET_PARAMETER_WORDS)


def redact_db_url(url: object) -> str:
    """Return ``url`` as text with its password and secret parameters hidden."""
    text = str(url)
    parts = _split(text)
    if parts is None:
        return f"{_MASK} (not of the form scheme://...; not shown)"
    scheme, userinfo, host_and_path, query, _ = parts
    shown = f"{scheme}://"
    if userinfo is not None:
        user, colon, _password = userinfo.partition(":")
        shown += f"{user}:{_MASK}@" if colon else f"{user}@"
    shown += host_and_path
    if query is not None:
        parameters = []
        for item in query.split("&"):
            name, equals, _value = item.partition("=")
            if equals and _is_secret_parameter(name):
                parameters.append(f"{name}={_MASK}")
            else:
                parameters.append(item)
        shown += "?" + "&".join(parameters)
    return shown


def url_secrets(url: object) -> list[str]:
    """Return the secrets in ``url`` that must not appear in any output, longest first."""
    parts = _split(str(url))
    if parts is None:
        text = str(url)
        return [text] if len(text) >= _MIN_SCRUBBED_LENGTH else []
    _, userinfo, _, query, _ = parts
    raw: list[str] = []
    if userinfo is not None and ":" in userinfo:
        password = userinfo.partition(":")[2]
        raw += [password, *password.split("@")]
    for item in (query or "").split("&"):
        name, equals, value = item.partition("=")
        if equals and _is_secret_parameter(name):
            raw.append(value)
    found: set[str] = set()
    for secret in raw:
        for form in (secret, urllib.parse.unquote(secret), urllib.parse.unquote_plus(secret)):
            if len(form) >= _MIN_SCRUBBED_LENGTH:
                found.add(form)
    return sorted(found, key=len, reverse=True)


def scrub_secrets(text: object, url: object) -> str:
    """Return ``text`` with each secret of ``url`` (see :func:`url_secrets`) replaced by ``***``."""
    result = str(text)
    for secret in url_secrets(url):
        result = result.replace(secret, _MASK)
    return result
