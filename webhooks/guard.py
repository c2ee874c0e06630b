"""The SSRF guard: which URLs an endpoint may have and which addresses a delivery may connect to.

Names are resolved at every delivery (``resolve``) and the connection goes to the address checked here
(transport.py), so a name that changes between the check and the connection (DNS rebinding) cannot slip a
private address through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

# Cloud metadata services: refused even where private networks are allowed (the embedded demo).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


class Refused(ValueError):
    """A URL or address a delivery must not go to; the message says why (it is shown to the partner)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name as written (Host header and TLS server name)
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked IP address the connection goes to


def _allowed_networks():
    return [ipaddress.ip_network(n.strip(), strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS if n.strip()]


def address_refusal(address) -> str | None:
    """Why this address is refused, or None."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or ip.is_multicast:
        return "not a public address"
    return None


def parse(url: str) -> SplitResult:
    """Check the URL's form (scheme, host, port, no credentials); raise Refused with the reason."""
    if not isinstance(url, str) or not url.strip():
        raise Refused("Enter the endpoint's URL.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused("This is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("The URL must start with https://.")
    if settings.WEBHOOK_REQUIRE_HTTPS and parts.scheme != "https":
        raise Refused("The URL must use https.")
    if not parts.hostname:
        raise Refused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise Refused("The URL must not carry a user name or password.")
    if port == 0:
        raise Refused("The URL's port is not valid.")
    return parts


def resolve(url: str) -> Target:
    """Parse, resolve and check every address of the host; the first address is the one to connect to.
    Any refused address refuses the URL: a name that also points inside is not a partner's."""
    parts = parse(url)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise Refused(f"The host name {host!r} does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused(f"The host name {host!r} does not resolve.")
    for address in addresses:
        reason = address_refusal(address.split("%", 1)[0])
        if reason:
            raise Refused(f"The URL resolves to {reason}, which webhooks may not reach.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])
