"""Where webhooks may go: public addresses, and what the operator allows besides.

A webhook URL is chosen by whoever registers it, and the worker posts to it
from inside the operator's network. Unless the operator allows them
(``SCIMGATE_WEBHOOK_ALLOWED_HOSTS``), loopback, private, link-local,
unique-local, shared, multicast, reserved and unspecified addresses are
refused, and so are the host names reserved for local use (``localhost``,
``*.internal``...). The check runs at registration, on the URL, and again at
each delivery, on the addresses the host name resolves to then: the worker
connects only to addresses it has checked.

Host names are read as the system's resolver reads them, so that ``127.1``,
``2130706433`` and ``0x7f.1`` are the loopback address they are, and an IPv6
address that carries an IPv4 one (``::ffff:127.0.0.1``) is judged by the IPv4
address.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolutionTimeout
from urllib.parse import urlsplit, urlunsplit

from scimgate.config import ALLOWED_HOSTS_VARIABLE, AllowedHosts, IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
LOCAL_NAMES = ("localhost",)
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
"""Special-use names (RFC 6761, RFC 6762, RFC 8375, ICANN's ``.internal``): never public."""

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SHARED = ipaddress.IPv4Network("100.64.0.0/10")
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")

RESOLVE_SECONDS = 10.0
"""The longest a registration waits for a host name to resolve."""

_resolver = ThreadPoolExecutor(4, thread_name_prefix="webhook-dns")
"""Resolves names apart, so that a resolver that hangs costs the caller its deadline only."""


class RefusedDestination(Exception):
    """A webhook URL or address that may not be used; ``detail`` says why, and what allows it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def masked(url: str) -> str:
    """The URL without the credentials it may carry (``user:password@`` becomes ``***@``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def check_url(url: str, allowed: AllowedHosts) -> None:
    """Refuse a URL to register: another scheme than http(s), credentials, a non-public host.

    A host name that does not resolve now is accepted: it is checked again, on
    its addresses, at each delivery.
    """
    shown = masked(url)
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise RefusedDestination(f"url: {shown!r} is not an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination(
            "url: must not carry credentials (user:password@); authenticate deliveries "
            "by their signature instead"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedDestination(f"url: {shown!r} has an invalid port") from None
    host = parts.hostname
    literal = address_of(host)
    addresses = [literal] if literal is not None else _resolved_or_none(host, port)
    check_addresses(host, addresses, allowed, what=f"url: {shown} is refused")


def check_addresses(
    host: str, addresses: list[IPAddress], allowed: AllowedHosts, *, what: str
) -> None:
    """Refuse a host unless the operator named it, or it and each of its addresses are public."""
    name = host.lower().rstrip(".")
    if name in allowed.names:
        return
    if address_of(name) is None and (name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES)):
        raise RefusedDestination(
            f"{what}: {host} is a name reserved for local networks; {_how_to_allow()}"
        )
    for address in addresses:
        kind = non_public(address)
        if kind is not None and not _allowed(address, allowed):
            via = "" if address_of(name) == address else f" ({host} resolves to it)"
            raise RefusedDestination(f"{what}: {address} is {kind} address{via}; {_how_to_allow()}")


def address_of(host: str) -> IPAddress | None:
    """The address a host names literally, as the system's resolver reads it; None for a name.

    Besides the usual forms, IPv4 addresses may be written as one number
    (``2130706433``), with parts left out (``127.1``), in hex or in octal.
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def non_public(address: IPAddress) -> str | None:
    """What kind of non-public address this is (``a loopback``...), or None for a public one."""
    address = _judged(address)
    checks = (
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (_within(address, UNIQUE_LOCAL), "a unique-local"),
        (_within(address, SHARED), "a shared (carrier-grade NAT)"),
        (address.is_reserved, "a reserved"),
        (address.is_private, "a private"),
        (not address.is_global, "a non-public"),
    )
    return next((kind for found, kind in checks if found), None)


def resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """The addresses a host name resolves to, in the resolver's order (without duplicates).

    Raises ``OSError`` when it does not resolve, ``TimeoutError`` when that takes too long.
    """
    literal = address_of(host)
    if literal is not None:
        return [literal]
    pending = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        found = pending.result(timeout)
    except ResolutionTimeout:
        raise TimeoutError(f"resolving {host} took more than {timeout:g} s") from None
    addresses = (ipaddress.ip_address(str(each[4][0]).partition("%")[0]) for each in found)
    return list(dict.fromkeys(addresses))


def _resolved_or_none(host: str, port: int) -> list[IPAddress]:
    try:
        return resolve(host, port, RESOLVE_SECONDS)
    except (OSError, UnicodeError, ValueError):
        return []


def _allowed(address: IPAddress, allowed: AllowedHosts) -> bool:
    judged = _judged(address)
    return any(_within(each, network) for each in {address, judged} for network in allowed.networks)


def _judged(address: IPAddress) -> IPAddress:
    """The address itself, or the IPv4 address an IPv6 one stands for: mapped, 6to4, NAT64."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if _within(address, NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _within(address: IPAddress, network: IPNetwork) -> bool:
    """Membership of one IP version only (``in`` alone compares mixed versions' bits)."""
    return address.version == network.version and address in network


def _how_to_allow() -> str:
    return (
        f"webhooks go to public addresses only, unless {ALLOWED_HOSTS_VARIABLE} allows "
        "the host name, the address or a range holding it"
    )
