"""One HTTP POST to a checked address, with the name's Host header and TLS server name.

urllib3 is told to connect to the IP address that passed the guard (``guard.resolve``), while the request
carries the endpoint's host name (Host header, SNI and certificate check): there is no second resolution
between the check and the connection. Redirects are never followed and urllib3 retries nothing (retries are
ours, with their own schedule).
"""

from __future__ import annotations

from dataclasses import dataclass

import urllib3
from django.conf import settings

from .guard import Target


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str = ""  # our words for a failure without a response (timeout, refused connection)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """Timeouts, connection failures, 5xx, 408 and 429 are worth another try; any other answer is not."""
        if self.status_code is None:
            return True
        return self.status_code >= 500 or self.status_code in (408, 429)


def _pool(target: Target, timeout: urllib3.Timeout):
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.WEBHOOK_CA_BUNDLE or None,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT,
        read=settings.WEBHOOK_TOTAL_TIMEOUT,
        total=settings.WEBHOOK_TOTAL_TIMEOUT,
    )
    pool = _pool(target, timeout)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": _host_header(target)},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        # Only the status is kept: the receiver's body is never read into our records.
        response.release_conn()
        return Outcome(status_code=response.status)
    except urllib3.exceptions.TimeoutError:
        return Outcome(status_code=None, error="The endpoint did not answer in time.")
    except urllib3.exceptions.SSLError:
        return Outcome(status_code=None, error="The TLS handshake or certificate check failed.")
    except urllib3.exceptions.HTTPError:
        return Outcome(status_code=None, error="The connection to the endpoint failed.")
    finally:
        pool.close()
