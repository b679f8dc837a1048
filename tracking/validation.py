"""Checks one raw event against the registry and turns it into a clean, PII-free record."""

import json
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from .registry import NUMBER_RANGES, REGISTRY, EventSpec, Source

MAX_PROPERTIES = 40
MAX_STRING = 500
MAX_ITEMS = 50
MAX_ITEM_KEYS = 20
# Offline queues replay events for a while; older ones are more likely garbage than late.
MAX_AGE = timedelta(days=7)
MAX_FUTURE = timedelta(minutes=5)
# Milliseconds since the epoch, below the year 5138: anything larger is not Date.now().
MAX_TS_MS = 10**14
# Digits of the largest id a bigint holds (2**63 - 1); longer text is refused before int() reads it.
MAX_ID_DIGITS = 19

# What crypto.randomUUID() and uuid.uuid4() make, and nothing else: uuid.UUID() also reads
# "{...}", "urn:uuid:..." and bare hex, and any version, the all-zero UUID among them.
RANDOM_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+"
# Seven or more digits, allowing spaces, dots, dashes and brackets between them.
PHONE = r"\+?\(?\d(?:[\s().-]*\d){6,}"
# One pass for both: at any position the email alternative is tried first, as an address
# can hold a run of digits.
PII_TEXT = re.compile(f"{EMAIL}|{PHONE}")
PII_KEYS = {"email", "e-mail", "phone", "telephone", "mobile", "name", "first_name", "last_name", "address", "password"}
REDACTED = "[redacted]"
ITEM_KEYS = {
    "item_id": (str, int),
    "item_name": (str,),
    "item_brand": (str,),
    "item_category": (str,),
    "item_list_name": (str,),
    "item_list_id": (str,),
    "index": (int,),
    "price": (int, float),
    "quantity": (int,),
    "slot": (str,),
    "algorithm": (str,),
    "position": (int,),
    "currency": (str,),
}


class Rejected(Exception):
    """An event that cannot be stored; reason is a short code, detail says what was wrong."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail[:300]


class CleanEvent(NamedTuple):
    """A validated event (a named tuple: a frozen dataclass costs 2.5 us a construction here)."""

    event_id: uuid.UUID
    name: str
    product_id: int | None
    category_id: int | None
    properties: dict
    client_ts: datetime
    occurred_at: datetime


def scrub(value: str) -> str:
    """Masks emails and phone numbers inside a free-text value (a search term, a label)."""
    return PII_TEXT.sub(REDACTED, value)


def _encodable(text: str) -> bool:
    """Postgres stores neither NUL nor lone surrogates (which JSON's \\ud800 escapes can carry)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_string(key: str, value: str) -> str:
    if len(value) > MAX_STRING:
        raise Rejected("value_too_long", f"{key} is longer than {MAX_STRING} characters")
    if not _encodable(value):
        raise Rejected("bad_character", f"{key} contains a NUL or an unpaired surrogate")
    return scrub(value)


def storable(text: str) -> str:
    """Text safe to keep in the rejected-event log: NULs and lone surrogates written out."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _check_int_id(key: str, value: Any) -> int | None:
    if value is None:
        return None
    # str.isdigit() also says yes to "²" and "①", which int() refuses, and to "٣", which it reads.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise Rejected("bad_type", f"{key} must be a positive integer")
    return value


def _check_number(key: str, value: int | float, *, label: str) -> None:
    """A finite number within the bounds NUMBER_RANGES gives for key; label names it in the reason."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected("bad_type", f"{label} is not a finite number")
    low, high = NUMBER_RANGES[key]
    if not low <= value <= high:
        raise Rejected("out_of_range", f"{label} must be between {low} and {high}")


def _check_items(items: list) -> list[dict]:
    if len(items) > MAX_ITEMS:
        raise Rejected("too_many_items", f"items holds more than {MAX_ITEMS} entries")
    clean = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or len(item) > MAX_ITEM_KEYS:
            raise Rejected("bad_type", f"items[{index}] must be an object of at most {MAX_ITEM_KEYS} fields")
        entry = {}
        for key, value in item.items():
            allowed = ITEM_KEYS.get(key)
            if allowed is None:
                continue  # GA4 item fields we do not use are dropped, not refused
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise Rejected("bad_type", f"items[{index}].{key} has the wrong type")
            if isinstance(value, str):
                value = _check_string(f"items[{index}].{key}", value)
            elif key == "item_id":
                _check_int_id(f"items[{index}].item_id", value)
            else:
                _check_number(key, value, label=f"items[{index}].{key}")
            entry[key] = value
        clean.append(entry)
    return clean


def _check_properties(spec: EventSpec, raw: Any) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Rejected("bad_type", "props must be an object")
    if len(raw) > MAX_PROPERTIES:
        raise Rejected("too_many_properties", f"props has more than {MAX_PROPERTIES} keys")
    for key in spec.required:
        if key not in raw:
            missing = sorted(key for key in spec.required if key not in raw)
            raise Rejected("missing_field", f"props needs {', '.join(missing)}")
    fields = spec.python_types
    clean = {}
    for key, value in raw.items():
        types = fields.get(key)
        if types is None:
            # Registry fields are plain names, none of them personal: only unknown keys need a look.
            if not isinstance(key, str) or not _encodable(key):
                raise Rejected("bad_type", "property names must be plain strings")
            if key.lower() in PII_KEYS:
                continue  # personal data is never stored, whatever a tag sends
            raise Rejected("unknown_field", f"{key[:40]} is not a field of this event")
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise Rejected("bad_type", f"{key} must be {spec.fields[key]}")
        if isinstance(value, str):
            value = _check_string(key, value)
        elif isinstance(value, list):
            value = _check_items(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _check_number(key, value, label=key)
        clean[key] = value
    return clean


def parse_timestamp(value: Any) -> datetime:
    """Milliseconds since the epoch (what Date.now() gives) or ISO 8601 text."""
    if isinstance(value, bool):
        raise Rejected("bad_timestamp", "ts must be epoch milliseconds or ISO 8601")
    if isinstance(value, int | float):
        # Compared, not converted: math.isfinite() of a 4,000-digit int overflows, and NaN fails here.
        if not 0 < value < MAX_TS_MS:
            raise Rejected("bad_timestamp", "ts is out of range")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise Rejected("bad_timestamp", "ts must be epoch milliseconds or ISO 8601")


def event_validate(raw: Any, *, received_at: datetime, skew: timedelta, source: str) -> CleanEvent:
    """One raw event to a clean one, or Rejected with a reason.

    skew is what to add to a client time to get server time (server receipt minus the
    batch's sent_at); the corrected time is never later than the receipt.
    """
    if not isinstance(raw, dict):
        raise Rejected("bad_type", "an event must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or name not in REGISTRY:
        raise Rejected("unknown_event", f"no event is named {str(name)[:40]!r}")
    spec = REGISTRY[name]
    if spec.server_only and source != Source.SERVER:
        raise Rejected("server_only", f"{name} is recorded by the server, not the browser")
    raw_id = raw.get("event_id")
    if not isinstance(raw_id, str) or not RANDOM_UUID.fullmatch(raw_id):
        raise Rejected("bad_event_id", "event_id must be a random UUID (version 4) written out in 36 characters")
    event_id = uuid.UUID(raw_id)
    client_ts = parse_timestamp(raw.get("ts"))
    try:
        corrected = client_ts + skew
    except OverflowError:
        raise Rejected("bad_timestamp", "ts is out of range") from None
    occurred_at = min(corrected, received_at)
    if occurred_at < received_at - MAX_AGE:
        raise Rejected("too_old", f"events older than {MAX_AGE.days} days are not accepted")
    if corrected > received_at + MAX_FUTURE:
        raise Rejected("in_future", "ts is in the future even after clock correction")
    product_id = _check_int_id("product_id", raw.get("product_id"))
    if spec.needs_product and product_id is None:
        raise Rejected("missing_field", f"{name} needs a product_id")
    category_id = _check_int_id("category_id", raw.get("category_id"))
    properties = _check_properties(spec, raw.get("props"))
    return CleanEvent(
        event_id=event_id,
        name=name,
        product_id=product_id,
        category_id=category_id,
        properties=properties,
        client_ts=client_ts,
        occurred_at=occurred_at,
    )


# Levels of a rejected payload that are masked and kept; deeper ones are a forgery's padding.
MAX_EXCERPT_DEPTH = 10
TOO_DEEP = "[nested too deep]"


def _masked(value: Any, depth: int = 0) -> Any:
    """value with personal data masked as a stored event's is: the values of personal keys
    replaced, emails and phone numbers in any text (keys too) masked."""
    if isinstance(value, str):
        return scrub(value)
    if not isinstance(value, dict | list):
        return value
    if depth >= MAX_EXCERPT_DEPTH:
        return TOO_DEEP
    if isinstance(value, list):
        return [_masked(item, depth + 1) for item in value]
    return {
        scrub(str(key)): REDACTED if str(key).lower() in PII_KEYS else _masked(item, depth + 1)
        for key, item in value.items()
    }


def masked_text(text: str) -> str:
    """Free text bound for the rejected-event log: personal data masked, storable in Postgres."""
    return storable(scrub(text))


def payload_excerpt(raw: Any, limit: int = 2000) -> str:
    """The raw event as text, personal data masked, bounded, for the rejected-event log."""
    try:
        text = json.dumps(_masked(raw), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = scrub(repr(raw))
    return storable(text[:limit])
