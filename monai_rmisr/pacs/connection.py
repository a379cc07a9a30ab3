"""A DICOMweb connection to a PACS, with credentials that never touch the command line or a log.

Credentials, in this order:

1. ``MONAI_RMISR_PACS_TOKEN``: sent as ``Authorization: Bearer <token>``;
2. ``MONAI_RMISR_PACS_USER`` and ``MONAI_RMISR_PACS_PASSWORD``: HTTP basic authentication;
3. a ``~/.netrc`` (or ``$NETRC``) entry for the host, which ``requests`` reads itself;
4. none.

A URL with a user name or password in it (``https://user:secret@host/...``) is refused: it would
end up in shell histories, process lists and logs. ``https://`` URLs are verified against the
system's certificate authorities, or ``ca_bundle`` (``REQUESTS_CA_BUNDLE`` works as well).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .service import MAX_NETWORK_TIMEOUT, check_seconds

__all__ = [
    "PACS_PASSWORD_ENV",
    "PACS_TOKEN_ENV",
    "PACS_USER_ENV",
    "PacsError",
    "check_pacs_url",
    "connect",
    "pacs_call",
]

PACS_TOKEN_ENV = "MONAI_RMISR_PACS_TOKEN"
PACS_USER_ENV = "MONAI_RMISR_PACS_USER"
PACS_PASSWORD_ENV = "MONAI_RMISR_PACS_PASSWORD"


class PacsError(RuntimeError):
    """A PACS request failed; the message names the server (never a credential) and what to do."""


@dataclass(frozen=True)
class _Credentials:
    headers: dict[str, str]
    basic: tuple[str, str] | None


def check_pacs_url(url: str) -> str:
    """``url`` without a trailing slash, if it is an ``http(s)://host[:port]/path`` DICOMweb root.

    Raises:
        ValueError: another scheme, no host, or credentials inside the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "--url must be an http:// or https:// DICOMweb address with a host, e.g. http://127.0.0.1:8042/dicom-web."
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "--url must not contain a user name or password (they would show in process lists and logs); "
            f"set {PACS_USER_ENV} and {PACS_PASSWORD_ENV}, or {PACS_TOKEN_ENV}, or use a ~/.netrc entry."
        )
    if parts.query or parts.fragment:
        raise ValueError(
            "--url must be the DICOMweb root, without '?' or '#' parts (a token there would show in logs)."
        )
    return url.rstrip("/")


def _credentials(environ: os._Environ[str] | dict[str, str]) -> _Credentials:
    token = environ.get(PACS_TOKEN_ENV, "")
    if token:
        return _Credentials({"Authorization": f"Bearer {token}"}, None)
    user, password = environ.get(PACS_USER_ENV, ""), environ.get(PACS_PASSWORD_ENV, "")
    if bool(user) != bool(password):
        missing = PACS_PASSWORD_ENV if user else PACS_USER_ENV
        raise ValueError(f"{PACS_USER_ENV} and {PACS_PASSWORD_ENV} go together; {missing} is not set.")
    return _Credentials({}, (user, password) if user else None)


def connect(
    url: str,
    ca_bundle: str | None = None,
    timeout: float = 60.0,
    retries: int = 4,
    environ: dict[str, str] | None = None,
):
    """A ``dicomweb_client.DICOMwebClient`` for the DICOMweb root ``url`` (e.g. Orthanc's
    ``http://127.0.0.1:8042/dicom-web``), authenticated from the environment or ``~/.netrc``.

    Args:
        url: the DICOMweb root (QIDO-RS, WADO-RS and STOW-RS below it).
        ca_bundle: a PEM file of certificate authorities for ``https://`` (default: the system's).
        timeout: seconds per HTTP request.
        retries: how often ``dicomweb-client`` repeats a request that could not connect or got HTTP
            408 / 429 / 503 / 504, waiting 2, 4, 8, ... seconds (4 retries: 30 s in all); 0: never.
        environ: where credentials are read (default ``os.environ``).

    Raises:
        ValueError: a bad URL, a half-given user/password pair, a missing ``ca_bundle`` file.
        ImportError: ``dicomweb-client`` is not installed (``pip install "monai-rmisr[pacs]"``).
    """
    url = check_pacs_url(url)
    check_seconds(timeout, "timeout", allow_zero=False, maximum=MAX_NETWORK_TIMEOUT)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"--retries must be a whole number >= 0, got {retries!r}.")
    credentials = _credentials(os.environ if environ is None else environ)
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise ValueError(f"--ca-bundle '{ca_bundle}' is not a file.")
    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ImportError as err:
        raise ImportError(
            f"rmisr pacs needs dicomweb-client ({err}); install it with: pip install 'monai-rmisr[pacs]'"
        ) from err

    class Session(requests.Session):
        """``requests.Session`` (``~/.netrc``, proxies and ``REQUESTS_CA_BUNDLE`` apply) in which an
        explicit ``ca_bundle`` wins over ``REQUESTS_CA_BUNDLE`` (requests lets the environment win:
        psf/requests#3829)."""

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            settings = super().merge_environment_settings(*args, **kwargs)
            if ca_bundle is not None:
                settings["verify"] = ca_bundle
            return settings

    session = Session()
    if credentials.basic is not None:
        session.auth = credentials.basic
    client = DICOMwebClient(url, session=session, headers=credentials.headers or None, timeout=timeout)
    client.set_http_retry_params(retry=retries > 0, max_attempts=retries + 1)
    return client


def pacs_call(what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` (a ``DICOMwebClient`` method) with network and HTTP errors turned
    into one :class:`PacsError` line that says ``what`` failed; never a URL with a query or a credential.
    """
    import requests

    try:
        return call(*args, **kwargs)
    except requests.HTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        hint = " (check the credentials: see docs/pacs.md)" if status in (401, 403) else ""
        raise PacsError(f"{what} failed: HTTP {status}{hint}.") from err
    except requests.exceptions.SSLError as err:
        raise PacsError(
            f"{what} failed: the PACS's TLS certificate is not trusted (give its CA with --ca-bundle PEM)."
        ) from err
    except requests.RequestException as err:
        raise PacsError(f"{what} failed: {type(err).__name__}: cannot reach the PACS.") from err
