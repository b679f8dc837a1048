"""The one tag library through which templates show personalized slots."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from shop.catalog.cards import card_html

register = template.Library()


@register.inclusion_tag("personalization/partials/slot.html", takes_context=True)
def slot(context, name: str) -> dict:
    """Render a slot the view filled with personalization.api.page_context, or nothing."""
    block = (context.get("slots") or {}).get(name)
    # The cards use the page's own context (currency, cart limits, the user).
    return {**context.flatten(), "block": block}


@register.simple_tag(takes_context=True)
def slot_cards(context, block) -> SafeString:
    """A filled slot's cards, each in its list item and tagged with the slot, algorithm and position
    it is attributed to: built here, as a template loop around the card tag cost as much again as
    the cards themselves (25 us a card)."""
    currency = context.get("currency", "")
    cards = (
        card_html(
            product,
            currency=currency,
            list_name=block.slot,
            slot=product.rec_slot,
            algorithm=product.rec_algorithm,
            position=product.rec_position,
        )
        for product in block.products
    )
    return mark_safe("".join(f"<li>{card}</li>" for card in cards))  # noqa: S308 (card_html escapes what it adds)


@register.simple_tag(takes_context=True)
def in_segment(context, slug: str) -> bool:
    """Whether the visitor is in the segment, from the page context: {% in_segment "newsletter" as reader %}."""
    return slug in (context.get("segments") or ())
