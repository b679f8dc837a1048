"""The device class of a request (desktop, phone or tablet), from its user agent, the way the tracker judges it."""

import re

# Tablets first: an iPad or an Android without "Mobile" is a tablet, an Android with it a phone.
TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Kindle|Android(?!.*Mobile)", re.IGNORECASE)
MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|Opera Mini", re.IGNORECASE)
# The device classes events carry and segment and rule conditions name (static/js/tracker.js sends them).
DEVICES = ("desktop", "phone", "tablet")


def device_class(user_agent: str) -> str:
    agent = user_agent[:512]
    if TABLET.search(agent):
        return "tablet"
    if MOBILE.search(agent):
        return "phone"
    return "desktop"
