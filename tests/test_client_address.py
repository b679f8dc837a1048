"""The client address behind a request: REMOTE_ADDR, or X-Forwarded-For when a trusted proxy sent it."""

import pytest
from django.test import RequestFactory

from shop.client_address import address_bucket, client_address

PROXIES = ["10.0.0.0/8", "2001:db8:ffff::1"]


def address(settings, *, remote: str, forwarded: str | None = None, proxies=PROXIES) -> str:
    settings.TRUSTED_PROXIES = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_trusted_proxies_the_forwarded_header_is_never_believed(settings):
    assert address(settings, remote="10.0.0.2", forwarded="198.51.100.1", proxies=[]) == "10.0.0.2"


def test_from_an_untrusted_peer_the_forwarded_header_is_ignored(settings):
    assert address(settings, remote="203.0.113.7", forwarded="198.51.100.1") == "203.0.113.7"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("198.51.100.1", "198.51.100.1"),
        # The client wrote the left part itself; only what the proxy appended counts.
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # Two proxies of ours in a row: the first hop that is not one of them.
        ("6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        ("198.51.100.1,2001:db8:ffff::1", "198.51.100.1"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        # Nothing but proxies, or a proxy that passed on garbage: the last address it vouched for.
        ("10.1.1.1", "10.1.1.1"),
        ("198.51.100.1, not-an-address", "10.0.0.2"),
        ("", "10.0.0.2"),
    ],
)
def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(settings, forwarded, client):
    assert address(settings, remote="10.0.0.2", forwarded=forwarded) == client


def test_a_bad_trusted_proxies_setting_fails_at_start_up():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import shop.settings.base"],
        env={"TRUSTED_PROXIES": "10.0.0.0/8,nonsense", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "nonsense" in result.stderr


def test_the_bucket_never_holds_the_address_and_an_ipv6_64_is_one_bucket(settings):
    def bucket(remote: str) -> str:
        return address_bucket(RequestFactory().get("/", REMOTE_ADDR=remote))

    settings.TRUSTED_PROXIES = []
    assert "203" not in bucket("203.0.113.7")
    assert bucket("203.0.113.7") != bucket("203.0.113.8")
    assert bucket("2001:db8:1:2::1") == bucket("2001:db8:1:2:aaaa::9")
    assert bucket("2001:db8:1:2::1") != bucket("2001:db8:1:3::1")
    assert bucket("") == "unknown"
