"""Which cluster is there, and the official client that speaks its language.

Elasticsearch clients refuse to talk to a server of another major version (and ES 9 refuses
requests of a client older than 8), so the server is asked first, over plain HTTP: the root
endpoint ``GET /`` gives ``version.number`` and, for OpenSearch,
``version.distribution: opensearch``; Elasticsearch also answers with the header
``X-Elastic-Product: Elasticsearch``. Then the matching client is loaded:

- Elasticsearch 9: the ``elasticsearch`` package (9.x), or ``elasticsearch8`` (an ES 9
  server accepts requests in version-8 compatibility mode);
- Elasticsearch 8: ``elasticsearch8``, or ``elasticsearch`` when it is 8.x;
- OpenSearch 1-3: ``opensearch-py``.

:class:`Cluster` wraps each in the three calls the collector makes (``request``, ``bulk``,
``info``) and turns every failure into :class:`ClusterError` with the HTTP status (None when
the cluster could not be reached), so retry decisions are made in one place.
"""

from __future__ import annotations

import base64
import importlib
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["ClusterError", "ServerInfo", "Cluster", "detect", "connect", "RETRYABLE"]

#: HTTP statuses worth retrying: too many requests, and server-side trouble.
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class ClusterError(Exception):
    """A request failed. ``status`` is the HTTP status, None when nothing answered."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"{status or 'unreachable'}: {reason}")
        self.status = status
        self.reason = reason

    @property
    def retryable(self) -> bool:
        """True for an unreachable cluster, 429 and 5xx: try again later."""
        return self.status is None or self.status in RETRYABLE


@dataclass(frozen=True)
class Auth:
    """How to reach the cluster."""

    hosts: tuple[str, ...]
    username: str = ""
    password: str = ""
    api_key: str = ""
    ca_certs: str = ""
    verify_certs: bool = True
    timeout_secs: float = 10.0

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}


@dataclass(frozen=True)
class ServerInfo:
    """What the root endpoint said."""

    flavor: str  # "elasticsearch" or "opensearch"
    version: str
    major: int
    cluster_name: str


def detect(auth: Auth) -> ServerInfo:
    """Ask the first host that answers ``GET /``; ClusterError when none does."""
    last = ClusterError(None, "no hosts configured")
    context = None
    if not auth.verify_certs:
        context = ssl._create_unverified_context()
    elif auth.ca_certs:
        context = ssl.create_default_context(cafile=auth.ca_certs)
    for host in auth.hosts:
        request = urllib.request.Request(host.rstrip("/") + "/", headers=auth.headers())
        try:
            with urllib.request.urlopen(request, timeout=auth.timeout_secs,
                                        context=context) as response:
                product = response.headers.get("X-Elastic-Product", "")
                info = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = ClusterError(exc.code, f"GET / on {host}: {exc.reason}")
            continue
        except (OSError, ValueError) as exc:
            last = ClusterError(None, f"GET / on {host}: {exc}")
            continue
        return server_info(info, product)
    raise last


def server_info(info: dict[str, Any], product: str = "") -> ServerInfo:
    """Read the root endpoint's answer; ClusterError(400) for a server we do not know."""
    version = info.get("version") or {}
    number = str(version.get("number", ""))
    try:
        major = int(number.split(".")[0])
    except ValueError:
        raise ClusterError(400, f"the server reports no version number: {info!r}") from None
    if version.get("distribution") == "opensearch":
        return ServerInfo("opensearch", number, major, str(info.get("cluster_name", "")))
    if product and product != "Elasticsearch":
        raise ClusterError(400, f"unknown product {product!r}")
    if major < 8:
        raise ClusterError(400, f"Elasticsearch {number} is too old: 8 or newer is needed")
    return ServerInfo("elasticsearch", number, major, str(info.get("cluster_name", "")))


def _client_module(info: ServerInfo) -> Any:
    """The installed client module matching the server (see the module doc)."""
    if info.flavor == "opensearch":
        candidates = ["opensearchpy"]
    elif info.major >= 9:
        candidates = ["elasticsearch", "elasticsearch8"]
    else:
        candidates = ["elasticsearch8", "elasticsearch"]
    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if info.flavor == "elasticsearch":
            client_major = int(str(module.__versionstr__).split(".")[0])
            if client_major > info.major or client_major < 8:
                continue
        return module
    wanted = {"opensearch": "opensearch-py"}.get(
        info.flavor, "elasticsearch8" if info.major == 8 else "elasticsearch>=9")
    raise ClusterError(400, f"{info.flavor} {info.version} needs the Python package "
                            f"{wanted} (pip install {wanted})")


class Cluster:
    """One official client bound to the detected server."""

    def __init__(self, auth: Auth, info: ServerInfo) -> None:
        self.info = info
        self.module = _client_module(info)
        self.flavor = info.flavor
        kwargs: dict[str, Any] = {"request_timeout": auth.timeout_secs}
        if info.flavor == "opensearch":
            kwargs = {"timeout": auth.timeout_secs, "max_retries": 0,
                      "retry_on_timeout": False}
            if auth.username:
                kwargs["http_auth"] = (auth.username, auth.password)
            if auth.api_key:
                kwargs["headers"] = auth.headers()
            self.client = self.module.OpenSearch(list(auth.hosts), verify_certs=auth.verify_certs,
                                                 ca_certs=auth.ca_certs or None, **kwargs)
        else:
            kwargs.update(max_retries=0, retry_on_timeout=False, verify_certs=auth.verify_certs)
            if auth.ca_certs:
                kwargs["ca_certs"] = auth.ca_certs
            if auth.api_key:
                kwargs["api_key"] = auth.api_key
            elif auth.username:
                kwargs["basic_auth"] = (auth.username, auth.password)
            self.client = self.module.Elasticsearch(list(auth.hosts), **kwargs)

    @property
    def client_name(self) -> str:
        return f"{self.module.__name__} {getattr(self.module, '__versionstr__', '')}".strip()

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, Any] | None = None) -> Any:
        """One API call; the decoded JSON answer, or ClusterError."""
        try:
            if self.flavor == "opensearch":
                return self.client.transport.perform_request(method, path, params=params,
                                                             body=body)
            headers = {"accept": "application/json"}
            if body is not None:
                headers["content-type"] = "application/json"
            return self.client.perform_request(method, path, params=params, headers=headers,
                                               body=body).body
        except Exception as exc:
            raise self._error(exc) from exc

    def bulk(self, payload: bytes) -> dict[str, Any]:
        """``POST /_bulk`` with ready NDJSON ``payload``; the answer with per-item results."""
        try:
            if self.flavor == "opensearch":
                return dict(self.client.bulk(body=payload))
            return dict(self.client.bulk(operations=payload).body)
        except Exception as exc:
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> ClusterError:
        status = getattr(exc, "status_code", None)
        meta = getattr(exc, "meta", None)
        if meta is not None and hasattr(meta, "status"):
            status = meta.status
        if not isinstance(status, int) or status <= 0:
            status = None  # connection refused, timeout: nothing answered
        info = getattr(exc, "body", None) or getattr(exc, "info", None) or str(exc)
        return ClusterError(status, _reason(info))

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing anyway
            pass


def _reason(info: Any) -> str:
    """The readable part of an error body."""
    if isinstance(info, dict):
        error = info.get("error", info)
        if isinstance(error, dict):
            return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
        return str(error)[:500]
    return str(info)[:500]


def connect(auth: Auth) -> Cluster:
    """Detect the server and bind the matching client (ClusterError when unreachable)."""
    return Cluster(auth, detect(auth))
