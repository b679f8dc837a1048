"""What a browser sends back from the checkout page: its hidden inputs."""

from html.parser import HTMLParser


class _HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def hidden_fields(page) -> dict[str, str]:
    """The hidden inputs of a rendered page, as a browser would post them with the form."""
    parser = _HiddenInputs()
    parser.feed(page.content.decode())
    return parser.fields
