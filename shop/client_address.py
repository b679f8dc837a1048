"""The address of the client behind a request: X-Forwarded-For is believed only from TRUSTED_PROXIES."""

import hashlib
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR; when that is a trusted proxy, the right-most X-Forwarded-For hop that is not one.

    Each proxy appends the address it was connected from, so hops to the left of the last one a
    trusted proxy wrote are whatever the client chose to send and prove nothing. Every caller that
    limits, locks or counts by address asks here (the collector's limits, login lockouts, sign-ups).
    """
    return peer_address(
        remote=request.META.get("REMOTE_ADDR", ""), forwarded=request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def peer_address(*, remote: str, forwarded: str) -> str:
    """client_address's rule for a connection that is no HttpRequest (a WebSocket's ASGI scope)."""
    if not settings.TRUSTED_PROXIES:
        return remote
    return _resolved(remote, forwarded, tuple(settings.TRUSTED_PROXIES))


def address_bucket(request: HttpRequest) -> str:
    """The client as per-address limits count it, as an opaque digest ("unknown" with no address).

    An IPv4 address counts whole: cut to its /24, 256 unrelated subscribers would share a bucket
    and one of them flooding would send the others 429s. An IPv6 address counts by its /64, one
    subscriber's network, inside which a host picks new addresses at will. The digest is keyed
    with SECRET_KEY, so the limiters' Redis keys never hold an address.
    """
    return peer_bucket(client_address(request))


def peer_bucket(address: str) -> str:
    """address_bucket of an address already resolved by client_address or peer_address."""
    return _bucket(address, settings.SECRET_KEY)


def client_network(request: HttpRequest) -> str:
    """The client as the login lockout counts it (AXES_CLIENT_IP_CALLABLE): the address, with an
    IPv6 one cut to its /64 as address_bucket does, so a host cannot step round the lock by
    taking the next of its 2^64 addresses. Axes stores it in an address column: not a digest."""
    address = _counted(client_address(request))
    return str(address) if address is not None else ""


@lru_cache(maxsize=4096)
def _counted(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """What per-address limits count: an IPv4 address whole, an IPv6 one by its /64."""
    address = _parsed(raw)
    if address is not None and address.version == 6:
        address = ipaddress.ip_network(f"{address}/64", strict=False).network_address
    return address


@lru_cache(maxsize=4096)
def _bucket(raw: str, secret: str) -> str:
    # Parsing, cutting and hashing cost ~15 us; a shopper sends many batches from one address.
    address = _counted(raw)
    if address is None:
        return "unknown"
    key = hashlib.blake2b(secret.encode(), digest_size=32).digest()
    return hashlib.blake2b(address.packed, key=key, digest_size=10).hexdigest()


@lru_cache(maxsize=4096)
def _resolved(remote: str, forwarded: str, proxies: tuple[str, ...]) -> str:
    # A shopper's batches repeat the same pair of headers; parsing them costs ~10 us each time.
    networks = _networks(proxies)
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    address = remote
    while hops and _trusted(address, networks):
        hop = _parsed(hops.pop())
        if hop is None:
            # A trusted proxy passed on something that is no address: stop at the last one it vouched for.
            break
        address = str(hop)
    return address


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parsed(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    # A dual-stack proxy may write an IPv4 client as ::ffff:a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address


def _trusted(raw: str, networks) -> bool:
    address = _parsed(raw)
    return address is not None and any(address in network for network in networks)
