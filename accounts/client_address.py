"""The client's address, the one thing every limit and audit event keys on.

Behind a reverse proxy every request comes from the proxy's address, so limits keyed on it would lock
everyone out at once; but X-Forwarded-For is written by whoever sends the request, so believing it from
anyone would let a client pick the address it is limited under. The header is read only when the
connection comes from a configured trusted proxy (``TRUSTED_PROXIES``, CIDRs), and then from the right:
the first hop that is not itself a trusted proxy is the client. With no trusted proxies, REMOTE_ADDR is
the client.

``ClientAddressMiddleware`` runs first and puts the result in REMOTE_ADDR (the peer's address is kept
in ``MEDILENS_PEER_ADDR``), so the audit log, django-axes, DRF's throttles and the sign-in limits all
see one address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

PEER_KEY = "MEDILENS_PEER_ADDR"


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in proxies if cidr.strip())


def _parse(value: str):
    try:
        return ipaddress.ip_address(value.strip().split("%")[0])
    except ValueError:
        return None


def resolve(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The client address for a connection from ``peer`` carrying ``forwarded_for``."""
    networks = _networks(trusted)
    peer_address = _parse(peer or "")
    if peer_address is None or not any(peer_address in network for network in networks):
        return peer
    client = peer
    for hop in reversed([part for part in (forwarded_for or "").split(",") if part.strip()]):
        address = _parse(hop)
        if address is None:
            # A hop that is no address was not written by a proxy we trust: stop at the last good one.
            break
        client = str(address)
        if not any(address in network for network in networks):
            break
    return client


def client_address(request) -> str | None:
    """For django-axes (AXES_CLIENT_IP_CALLABLE): the address the middleware resolved."""
    return request.META.get("REMOTE_ADDR") or None


class ClientAddressMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        peer = request.META.get("REMOTE_ADDR", "")
        request.META[PEER_KEY] = peer
        trusted = tuple(settings.TRUSTED_PROXIES)
        if trusted:
            request.META["REMOTE_ADDR"] = resolve(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""), trusted)
        return self.get_response(request)
