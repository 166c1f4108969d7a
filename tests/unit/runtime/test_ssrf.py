"""The outbound address guard (no network: IP literals and /etc/hosts names only)."""

from __future__ import annotations

import pytest

from agentrun.runtime.tools.ssrf import (
    UnsafeURLError,
    check_url,
    check_url_async,
    refusal_reason,
    resolve_url,
)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "shared (carrier-grade NAT)"),
    ("169.254.169.254", "cloud metadata (AWS/GCP/Azure/OpenStack)"),
    ("fd00:ec2::254", "cloud metadata (AWS IPv6)"),
    ("168.63.129.16", "cloud metadata (Azure wire server)"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata (AWS/GCP/Azure/OpenStack)"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("192.0.2.1", "private"),  # documentation range
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refusal_reasons(address: str, reason: str) -> None:
    assert refusal_reason(address) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/",
        "http://[fd00:ec2::254]/",
        "http://localhost/",
        "https://LOCALHOST./",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",  # 127.0.0.1 in hex shorthand
        "http://user:pw@127.0.0.1/",
    ],
)
def test_internal_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_url(url)
    assert "http_allow_hosts" in str(info.value)


def test_message_names_the_host_and_the_resolved_address() -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_url("http://localhost:8000/admin")
    message = str(info.value)
    assert "localhost resolves to" in message and "loopback" in message


@pytest.mark.parametrize(
    "url", ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "http:///nohost"]
)
def test_bad_schemes_and_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url)


def test_public_ip_literal_passes_and_reports_addresses() -> None:
    checked = resolve_url("https://8.8.8.8/dns?q=1")
    assert checked.addresses == ("8.8.8.8",)
    assert (checked.scheme, checked.host, checked.port) == ("https", "8.8.8.8", 443)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:8000/", ["127.0.0.1"]),
        ("http://localhost:8000/", ["localhost"]),
        ("http://LocalHost:8000/", ["localhost"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://[::1]/", ["::1"]),
        ("http://[::1]/", ["[::1]"]),
    ],
)
def test_allow_list_admits_hosts_addresses_and_networks(url: str, allow: list[str]) -> None:
    check_url(url, allow)


def test_allow_list_is_specific() -> None:
    with pytest.raises(UnsafeURLError):
        check_url("http://10.0.0.2/", ["10.0.0.1"])
    with pytest.raises(UnsafeURLError):
        check_url("http://169.254.169.254/", ["127.0.0.1", "10.0.0.0/8"])


async def test_async_variant_refuses_the_same() -> None:
    with pytest.raises(UnsafeURLError):
        await check_url_async("http://localhost/")
    await check_url_async("http://127.0.0.1/", ["127.0.0.1"])


def test_unresolvable_host_is_refused_clearly() -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_url("http://no-such-host.invalid/")
    assert "cannot resolve" in str(info.value)
