"""What a crafted request carries, for fuzzing the storefront's query strings and forms from outside."""

from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

# Any text, bytes that are not UTF-8, numbers at and past every bound, words the forms know,
# and NULs and controls that Postgres refuses.
SPECIAL = st.sampled_from(
    [
        b"\x00",
        b"mug\x00",
        b"\xff\xfe",
        b"NaN",
        b"Infinity",
        b"-1",
        b"0",
        b"1e400",
        b"9" * 40,
        b"99999999.999",
        b"price_asc",
        b"relevance",
        b"hearth-co",
        b"on",
        b"last",
        b"%",
        b"'",
        b"\\",
        b" " * 3,
        b"x" * 500,
        b"a@b.c",
        b"ada@example.com\x00",
        b"LL-T000001",
        b"@" * 300,
    ]
)
VALUES = st.one_of(
    SPECIAL, st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=12)
)


def pairs_of(names: tuple[str, ...]):
    """Lists of (name, value): the form's own names or any, each value any of VALUES."""
    return st.lists(st.tuples(st.one_of(st.sampled_from(names), st.text(max_size=6)), VALUES), max_size=6)


def encoded(pairs) -> str:
    """The pairs as a query string or an urlencoded form body, bytes kept as they are."""
    return "&".join(
        f"{quote_from_bytes(key.encode('utf-8', 'surrogatepass'), safe='')}={quote_from_bytes(value, safe='')}"
        for key, value in pairs
    )


def assert_clean_answer(response, pairs) -> None:
    """A page, a redirect, or a 4xx that says why: never a 500."""
    status = response.status_code
    assert status in (200, 302) or 400 <= status < 500, (pairs, status)
    if status in (400, 404, 429) and response["Content-Type"].startswith("text/html"):
        body = response.content
        # A form's message, or the shop's own page for an address that names nothing (a path
        # the fuzzed part made unroutable): "We could not find that page".
        said = (b'role="alert"', b"field__error", b"errorlist", b'class="error-page__code">404<')
        assert any(marker in body for marker in said), pairs
