"""The one tag library through which templates show personalized slots."""

from django import template

register = template.Library()


@register.inclusion_tag("personalization/partials/slot.html", takes_context=True)
def slot(context, name: str) -> dict:
    """Render a slot the view filled with personalization.api.page_context, or nothing."""
    block = (context.get("slots") or {}).get(name)
    # The cards use the page's own context (currency, cart limits, the user).
    return {**context.flatten(), "block": block}


@register.simple_tag(takes_context=True)
def in_segment(context, slug: str) -> bool:
    """Whether the visitor is in the segment, from the page context: {% in_segment "newsletter" as reader %}."""
    return slug in (context.get("segments") or ())
