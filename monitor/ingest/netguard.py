"""The SSRF guard: which addresses the fetcher may connect to.

A feed is hostile input: its links, and the redirects of any server, can point at a cloud metadata service
or an intranet. Every address a connection would go to — after name resolution, so ``localhost``,
``2130706433`` or ``127.1`` are judged by what they resolve to — is refused when it is not globally routable,
unless a configured network (``http.allowed_networks``) allows it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
PRIVATE = tuple(map(ipaddress.ip_network, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")))


def _category(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is (with its article), or None for a public one."""
    if ip.is_loopback:
        return "a loopback"
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_multicast:
        return "a multicast"
    if ip in CARRIER_GRADE_NAT:
        return "a carrier-grade NAT"
    if any(ip in net for net in PRIVATE):
        return "a private"
    if ip.is_private or ip.is_reserved or not ip.is_global:  # documentation, benchmarking, 240/4, …
        return "a reserved"
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:  # 6to4 wraps an IPv4 address
        return _category(ip.sixtofour)
    return None


class AddressPolicy:
    """Public addresses are allowed, plus those in ``allowed`` networks; everything else is refused."""

    def __init__(self, allowed: Sequence[IPNetwork] = ()):
        self._allowed = tuple(allowed)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to ``address`` is refused (``127.0.0.1 is a loopback address``), or None."""
        plain = address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            plain = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(plain in net or address in net for net in self._allowed):
            return None
        category = _category(plain)
        return None if category is None else f"{address} is {category} address"

    def first_refusal(self, addresses: Iterable[IPAddress]) -> str | None:
        return next((r for r in map(self.refusal, addresses) if r is not None), None)


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one in standard form, else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for, in the system's order of preference; raises socket.gaierror.
    Numeric forms other than the standard one (``2130706433``, ``0x7f000001``, ``127.1``) resolve too."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _addresses(infos)


def resolve_now(host: str, port: int) -> list[IPAddress]:
    """``resolve`` for code outside an event loop (checking a URL given on the command line)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def pinned(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """``request`` sent to the checked ``address``, its host name kept for the Host header and TLS: a second,
    rebound answer of the name server cannot slip in between check and connect."""
    return httpx.Request(
        request.method, request.url.copy_with(host=str(address)), headers=request.headers, stream=request.stream,
        extensions={**request.extensions, "sni_hostname": request.url.raw_host.decode("ascii")},
    )


class BlockedAddress(Exception):
    """A request refused by the guard before connecting; the message says which address and why."""


class GuardedTransport(httpx.HTTPTransport):
    """httpx's synchronous transport with every request (no proxy) passing the guard first: the host is
    resolved, every address checked, and the connection goes to the first one. Raises BlockedAddress, or
    httpx.ConnectError when the name does not resolve."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any):
        super().__init__(**kwargs)
        self._policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")
        try:
            addresses = resolve_now(host, url.port or (443 if url.scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        refusal = self._policy.first_refusal(addresses)
        if refusal is not None:
            raise BlockedAddress(f"blocked: {refusal} (see http.allowed_networks)")
        return super().handle_request(request if literal_address(host) else pinned(request, addresses[0]))
