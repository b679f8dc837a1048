"""Login throttling: an account locks where it is guessed at, an address locks for all, sign-ups are limited."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories.accounts import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
GUESSER, ELSEWHERE, PROXY = "203.0.113.7", "198.51.100.20", "10.0.0.2"
LOCKED = "Too many failed attempts; try again in 15 minutes."


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 12
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def log_in(username: str, password: str, *, address: str = GUESSER, url: str = "accounts:login", **environ):
    client = Client(REMOTE_ADDR=address, **environ)
    response = client.post(reverse(url), {"username": username, "password": password})
    return client, response


def test_five_wrong_passwords_lock_the_account_at_that_address_until_the_cool_off_ends():
    shopper = UserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        answers = [log_in(shopper.username, f"guess-{n}")[1] for n in range(5)]
        assert [answer.status_code for answer in answers] == [200] * 4 + [429]
        assert "enter a correct username and password" in answers[0].content.decode()
        assert LOCKED in answers[-1].content.decode()

        _, refused = log_in(shopper.username, PASSWORD)
        assert refused.status_code == 429
        page = refused.content.decode()
        assert LOCKED in page
        assert '<form method="post"' in page  # the login page again, not a bare error

        # Nobody can lock a shopper out from every address: at home the right password works.
        _, at_home = log_in(shopper.username, PASSWORD, address=ELSEWHERE)
        assert at_home.status_code == 302

        clock.shift(timedelta(minutes=10))
        _, later = log_in(shopper.username, PASSWORD)
        assert later.status_code == 429
        assert "try again in 5 minutes" in later.content.decode()

        clock.shift(timedelta(minutes=5, seconds=1))
        client, after = log_in(shopper.username, PASSWORD)
        assert after.status_code == 302
        assert client.get(reverse("home")).context["user"] == shopper


def test_an_ipv6_host_cannot_step_round_the_lock_within_its_64():
    shopper = UserFactory()
    answers = [log_in(shopper.username, f"guess-{n}", address=f"2001:db8:1:2::{n + 1:x}")[1] for n in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429]
    _, next_address = log_in(shopper.username, PASSWORD, address="2001:db8:1:2::ffff")
    assert next_address.status_code == 429
    _, other_network = log_in(shopper.username, PASSWORD, address="2001:db8:1:3::1")
    assert other_network.status_code == 302


def test_an_address_guessing_many_accounts_is_locked_for_all_of_them():
    # Three guesses at each of four accounts: none reaches 5, but the address reaches 12.
    answers = [
        log_in(victim.username, f"guess-{n}")[1].status_code for victim in UserFactory.create_batch(4) for n in range(3)
    ]
    assert answers == [200] * 11 + [429]
    # Any account it tries next is refused, right password or not; elsewhere it is not.
    bystander = UserFactory()
    _, refused = log_in(bystander.username, PASSWORD)
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    assert log_in(bystander.username, PASSWORD, address=ELSEWHERE)[1].status_code == 302


def test_a_success_clears_the_account_failures_but_not_the_address_failures():
    shopper, own = UserFactory(), UserFactory()
    for n in range(4):
        log_in(shopper.username, f"guess-{n}")
    # The shopper gets it right at last: their four failures are forgiven.
    assert log_in(shopper.username, PASSWORD)[1].status_code == 302
    assert [log_in(shopper.username, f"again-{n}")[1].status_code for n in range(4)] == [200] * 4

    # A guesser logging into an account of their own between guesses does not wipe the count.
    victim = UserFactory()
    for n in range(4):
        log_in(victim.username, f"guess-{n}", address=ELSEWHERE)
    assert log_in(own.username, PASSWORD, address=ELSEWHERE)[1].status_code == 302
    assert log_in(victim.username, "guess-4", address=ELSEWHERE)[1].status_code == 429


def test_the_admin_login_is_throttled_too():
    staff = StaffFactory()
    answers = [log_in(staff.username, f"guess-{n}", url="admin:login")[1] for n in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429]
    client, refused = log_in(staff.username, PASSWORD, url="admin:login")
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # still sent to the login page


def test_the_lockout_counts_the_client_behind_the_trusted_proxy_not_the_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    shopper = UserFactory()
    for n in range(5):
        log_in(shopper.username, f"guess-{n}", address=PROXY, HTTP_X_FORWARDED_FOR=GUESSER)
    guesser = {"address": PROXY, "HTTP_X_FORWARDED_FOR": GUESSER}
    assert log_in(shopper.username, PASSWORD, **guesser)[1].status_code == 429
    # Another shopper behind the same proxy is not the guesser.
    assert log_in(shopper.username, PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=ELSEWHERE)[1].status_code == 302
    # Straight from the guesser's address, a forwarded header is its own say-so and sheds nothing.
    assert log_in(shopper.username, PASSWORD, HTTP_X_FORWARDED_FOR=ELSEWHERE)[1].status_code == 429


def sign_up(n: int, *, address: str = GUESSER, email: str | None = None):
    return Client(REMOTE_ADDR=address).post(
        reverse("accounts:register"),
        {
            "username": f"newcomer{n}",
            "email": email or f"newcomer{n}@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )


def test_sign_ups_are_limited_per_address_and_the_limit_hides_which_emails_exist(settings):
    settings.ACCOUNTS_SIGNUP_ATTEMPTS_PER_IP = 3
    taken = UserFactory(email="taken@example.com")
    assert sign_up(1).status_code == 302
    probe = sign_up(2, email=taken.email)
    assert probe.status_code == 400
    assert "already exists" in probe.content.decode()
    assert sign_up(3).status_code == 302

    refused = sign_up(4, email=taken.email)
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many sign-ups from your network; try again in" in page
    assert "already exists" not in page
    assert sign_up(5).status_code == 429
    assert not User.objects.filter(username="newcomer5").exists()
    assert sign_up(6, address=ELSEWHERE).status_code == 302
