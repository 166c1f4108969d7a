"""Refuse outbound requests to addresses a server should not reach on a user's behalf (SSRF).

``check_url(url, allow_hosts)`` resolves the URL's host and raises :class:`UnsafeURLError` when
any resolved address is loopback, private (RFC 1918, RFC 6598 shared, IPv6 ULA), link-local,
multicast, unspecified, reserved or otherwise not globally routable, or a cloud metadata endpoint
(169.254.169.254, fd00:ec2::254, ...). IPv4 addresses embedded in IPv6 (``::ffff:127.0.0.1``,
6to4, Teredo) are checked as the IPv4 they carry. Numeric tricks (``http://2130706433/``,
``http://0x7f.1/``) are caught because the resolved address is what gets checked.

``allow_hosts`` lists exceptions: a host name (exact, case-insensitive), an IP address, or a
network in CIDR form (``10.0.0.0/8``). An allowed host skips the address check; an allowed
address or network admits that address.

A check followed by a separate connection can be raced by DNS rebinding (the name resolves to a
public address for the check and a private one for the connection). Callers that connect should
use :func:`resolve_url` / :func:`resolve_url_async` and connect to the returned
``CheckedURL.address`` (the http_get tool does: it pins the checked address and sends the
original host in ``Host`` and TLS SNI).

Redirects are the caller's job: check every hop (http_get follows at most 5, checking each).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CheckedURL", "UnsafeURLError", "check_url", "check_url_async", "resolve_url", "resolve_url_async"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, named so the error says what was refused. Most are also link-local
# or private; Azure's wire server (168.63.129.16) is not, so it must be listed.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"): "cloud metadata (AWS/GCP/Azure/OpenStack)",
    ipaddress.ip_address("169.254.170.2"): "cloud metadata (AWS ECS)",
    ipaddress.ip_address("fd00:ec2::254"): "cloud metadata (AWS IPv6)",
    ipaddress.ip_address("100.100.100.200"): "cloud metadata (Alibaba Cloud)",
    ipaddress.ip_address("168.63.129.16"): "cloud metadata (Azure wire server)",
}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_TEREDO = ipaddress.ip_network("2001::/32")
_SCHEMES = {"http": 80, "https": 443}


class UnsafeURLError(ValueError):
    """The URL may not be fetched: bad scheme, unresolvable host, or a refused address."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the check, with the addresses its host resolved to (all allowed)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def address(self) -> str:
        """The address to connect to (the first one resolved)."""
        return self.addresses[0]


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise :class:`UnsafeURLError` unless every address ``url``'s host resolves to is allowed."""
    resolve_url(url, allow_hosts)


async def check_url_async(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """:func:`check_url` without blocking the event loop on DNS."""
    await resolve_url_async(url, allow_hosts)


def resolve_url(url: str, allow_hosts: Iterable[str] = ()) -> CheckedURL:
    """Check ``url`` and return its resolved, allowed addresses (blocking DNS lookup)."""
    scheme, host, port = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURLError(f"cannot resolve host {host!r} of {url!r}: {exc}") from None
    return _checked(url, scheme, host, port, [str(info[4][0]) for info in infos], allow_hosts)


async def resolve_url_async(url: str, allow_hosts: Iterable[str] = ()) -> CheckedURL:
    """:func:`resolve_url` with the DNS lookup off the event loop."""
    scheme, host, port = _split(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURLError(f"cannot resolve host {host!r} of {url!r}: {exc}") from None
    return _checked(url, scheme, host, port, [str(info[4][0]) for info in infos], allow_hosts)


def refusal_reason(address: str) -> str | None:
    """Why ``address`` must not be reached, or ``None`` if it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    # The embedded IPv4 first: it is where a connection goes, and names the more specific reason.
    for candidate in (*_embedded_ipv4(ip), ip):
        if reason := _reason(candidate):
            return reason
    return None


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UnsafeURLError(f"refusing {url!r}: only http and https URLs may be fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURLError(f"invalid URL {url!r}: no host")
    return scheme, host, port or _SCHEMES[scheme]


def _checked(
    url: str, scheme: str, host: str, port: int, addresses: Sequence[str], allow_hosts: Iterable[str]
) -> CheckedURL:
    unique = tuple(dict.fromkeys(a.split("%", 1)[0] for a in addresses))
    if not unique:
        raise UnsafeURLError(f"cannot resolve host {host!r} of {url!r}: no addresses")
    names, networks = _allow_list(allow_hosts)
    if host.lower() not in names:
        for address in unique:
            reason = refusal_reason(address)
            if reason and not any(ipaddress.ip_address(address) in net for net in networks):
                shown = host if host == address else f"{host} resolves to {address}"
                raise UnsafeURLError(
                    f"refusing {url!r}: {shown}, a {reason} address. To allow it, add the host or "
                    "address to tools.http_allow_hosts (AGENTRUN_TOOLS__HTTP_ALLOW_HOSTS)."
                )
    return CheckedURL(url=url, scheme=scheme, host=host, port=port, addresses=unique)


def _allow_list(
    allow_hosts: Iterable[str],
) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in allow_hosts:
        entry = entry.strip().strip("[]").lower()
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return names, networks


def _reason(ip: IPAddress) -> str | None:
    if ip in _METADATA:
        return _METADATA[ip]
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.version == 4 and ip in _SHARED, "shared (carrier-grade NAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    )
    return next((reason for flagged, reason in checks if flagged), None)


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip in _TEREDO and ip.teredo is not None:
        found.extend(ip.teredo)
    # IPv4-compatible (::a.b.c.d, deprecated) still routes to the IPv4 on some stacks.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def pinned_request(checked: CheckedURL, user_agent: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and httpx extensions that connect to the address the guard checked.

    Connecting to the checked IP (not the host name again) closes the DNS-rebinding gap; the
    original host still goes in ``Host`` and, for HTTPS, in TLS SNI. Credentials in the URL
    (``user:password@``) are never forwarded.
    """
    parts = urlsplit(checked.url)
    address = checked.address
    host_part = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    default_port = 443 if checked.scheme == "https" else 80
    netloc = host_part if checked.port == default_port else f"{host_part}:{checked.port}"
    url = urlunsplit((checked.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": user_agent}
    extensions: dict[str, Any] = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
    return url, headers, extensions
