"""The tag library through which templates show content slots and, to staff, why rules fired or not."""

from django import template

from ..render import CONTENT_TEMPLATE, placement_context
from ..stages import DECISION

register = template.Library()


@register.inclusion_tag(CONTENT_TEMPLATE, takes_context=True)
def content_slot(context, name: str) -> dict:
    """What a rule or a content block placed in this named slot, or an empty placeholder the
    live channel can fill."""
    return {**context.flatten(), **placement_context(context.get("page_shared"), name)}


@register.inclusion_tag("merchandising/partials/rules_trace.html", takes_context=True)
def rules_trace(context) -> dict:
    """For staff, on the page itself: every rule this render looked at, fired or not and why."""
    request = context.get("request")
    decision = (context.get("page_shared") or {}).get(DECISION)
    staff = request is not None and request.user.is_staff
    return {"trace": decision.trace if staff and decision is not None else []}
