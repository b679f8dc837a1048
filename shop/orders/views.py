"""Storefront views of the cart, checkout, order history and a guest's order look-up."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from personalization.api import page_context
from shop.ratelimit import address_budget_spend, try_again_message

from . import events, services
from .forms import CartAddForm, CartLineForm, CheckoutForm, CouponForm, OrderLookupForm
from .models import Order
from .selectors import (
    cart_for_session,
    cart_summary,
    order_for_checkout_key,
    order_for_guest,
    order_list_for_user,
    order_visible_to,
)


def _cart_context(request: HttpRequest) -> dict:
    summary = cart_summary(cart=cart_for_session(session=request.session, user=request.user))
    return {"summary": summary, **page_context(request, "cart", products=[line.product_id for line in summary.lines])}


def _cart_page(request: HttpRequest, *, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    context = {**_cart_context(request), "errors": errors or []}
    return render(request, "orders/cart.html", context, status=status)


def _form_errors(form) -> list[str]:
    return [
        f"{form.fields[name].label or name}: {message}" if name in form.fields else message
        for name, messages_ in form.errors.items()
        for message in messages_
    ]


@require_GET
def cart_view(request: HttpRequest) -> HttpResponse:
    return _cart_page(request)


# The pieces of a page that follow its cart, by name (their data-slot-block): every page's header
# link, and the cart page's lines, totals and "Complete your order" shelf.
CART_FRAGMENTS = {"cart:count": "orders/partials/cart_link.html"}
CART_PAGE_FRAGMENTS = {
    "cart:page": "orders/partials/cart_contents.html",
    "cart_complete": "orders/partials/cart_complete.html",
}


@require_GET
def cart_fragments_view(request: HttpRequest) -> JsonResponse:
    """The cart's pieces of a page as HTML (?page=cart adds the cart page's own), rendered by the
    partials the page renders, for tracker.js to swap in when the live channel says the cart
    changed in another tab. Fetched over HTTP rather than rendered on the socket: the socket's
    handshake cookies go stale when the session is made (the first add to cart) or cycled (login)
    after it opened, and this request carries the browser's current ones."""
    fragments = CART_FRAGMENTS
    context: dict = {}
    if request.GET.get("page") == "cart":
        fragments = {**CART_FRAGMENTS, **CART_PAGE_FRAGMENTS}
        context = _cart_context(request)
    html = {name: render_to_string(template, context, request=request) for name, template in fragments.items()}
    response = JsonResponse({"fragments": html})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def cart_add_view(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    data.setdefault("quantity", "1")
    form = CartAddForm(data)
    if not form.is_valid():
        return _cart_page(request, errors=_form_errors(form), status=400)
    cart = services.cart_get_or_create(session=request.session, user=request.user)
    try:
        line = services.cart_add_item(
            cart=cart, product_id=form.cleaned_data["product_id"], quantity=form.cleaned_data["quantity"]
        )
    except services.CartError as error:
        return _cart_page(request, errors=[str(error)], status=error.status)
    events.cart_change_record(request, product=line.product, delta=form.cleaned_data["quantity"])
    messages.success(request, f"Added “{line.product.title}” to your cart.")
    return redirect("orders:cart")


@require_POST
def cart_update_view(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return _cart_page(request, errors=_form_errors(form), status=400)
    cart = cart_for_session(session=request.session, user=request.user)
    if cart is None:
        return _cart_page(request, errors=["Your cart is empty."], status=400)
    try:
        change = services.cart_set_quantity(
            cart=cart, product_id=form.cleaned_data["product_id"], quantity=form.cleaned_data["quantity"]
        )
    except services.CartError as error:
        return _cart_page(request, errors=[str(error)], status=error.status)
    events.cart_change_record(request, product=change.product, delta=change.delta)
    messages.success(request, "Your cart was updated.")
    return redirect("orders:cart")


@require_POST
def cart_remove_view(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    data["quantity"] = "0"
    form = CartLineForm(data)
    cart = cart_for_session(session=request.session, user=request.user)
    if not form.is_valid() or cart is None:
        return _cart_page(request, errors=_form_errors(form) or ["Your cart is empty."], status=400)
    try:
        change = services.cart_remove_item(cart=cart, product_id=form.cleaned_data["product_id"])
    except services.CartError as error:
        return _cart_page(request, errors=[str(error)], status=error.status)
    events.cart_change_record(request, product=change.product, delta=change.delta)
    messages.success(request, "The item was removed from your cart.")
    return redirect("orders:cart")


@require_POST
def cart_coupon_view(request: HttpRequest) -> HttpResponse:
    """Apply a coupon code to the cart (or take it off with remove)."""
    form = CouponForm(request.POST)
    cart = cart_for_session(session=request.session, user=request.user)
    if not form.is_valid() or cart is None:
        return _cart_page(request, errors=_form_errors(form) or ["Your cart is empty."], status=400)
    code = "" if "remove" in request.POST else form.cleaned_data["code"]
    try:
        kept = services.cart_coupon_set(cart=cart, code=code)
    except services.CartError as error:
        return _cart_page(request, errors=[str(error)], status=error.status)
    messages.success(request, f"Coupon {kept} applied." if kept else "The coupon was removed.")
    return redirect("orders:cart")


def _order_shown(request: HttpRequest, *, order: Order, just_placed: bool = True) -> HttpResponse:
    """Send the shopper to an order this session placed or found, and let the session see it."""
    request.session["placed_orders"] = [*request.session.get("placed_orders", [])[-9:], order.number]
    if just_placed:
        request.session["just_placed"] = order.number
    return redirect("orders:detail", number=order.number)


@require_http_methods(["GET", "POST"])
def checkout_view(request: HttpRequest) -> HttpResponse:
    """The checkout form carries a token with its own checkout key: sent again (a double click,
    a retry after a lost answer), it shows the order it placed instead of charging again."""
    cart = cart_for_session(session=request.session, user=request.user)
    # The cart is read before the order is looked up: a twin submission that emptied it has
    # committed its order in the same transaction, so the lookup below finds that order.
    summary = cart_summary(cart=cart)
    checkout_key, token_error = None, None
    # A form without a token (an old page, a script) is still bought once: order_place locks the cart.
    if request.method == "POST" and request.POST.get("checkout_token"):
        try:
            checkout_key = services.checkout_key_read(token=request.POST["checkout_token"], cart=cart)
        except services.CartError as error:
            token_error = error
        else:
            placed = order_for_checkout_key(key=checkout_key)
            if placed is not None:
                messages.info(request, services.ALREADY_PLACED)
                return _order_shown(request, order=placed)
    if summary.is_empty:
        messages.info(request, "Your cart is empty: add something before checking out.")
        return redirect("orders:cart")
    initial = (
        {"email": request.user.email, "full_name": request.user.get_full_name()}
        if request.user.is_authenticated
        else {}
    )
    form = CheckoutForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "GET":
        events.checkout_begin_record(request, summary=summary)
    if request.method == "POST":
        if form.is_valid() and token_error is None:
            data = form.cleaned_data
            address = services.ShippingAddress(
                full_name=data["full_name"],
                email=data["email"],
                address_line1=data["address_line1"],
                address_line2=data["address_line2"],
                city=data["city"],
                postcode=data["postcode"],
                country=data["country"],
            )
            try:
                order = services.order_place(
                    cart=cart,
                    user=request.user,
                    address=address,
                    card_number=data["card_number"],
                    checkout_key=checkout_key,
                )
            except services.AlreadyPlaced as already:  # a twin submission won the cart's lock
                messages.info(request, str(already))
                return _order_shown(request, order=already.order)
            except services.CartError as error:
                form.add_error(None, str(error))
                status = error.status
            else:
                events.purchase_record(request, order=order)
                return _order_shown(request, order=order)
        else:
            if token_error is not None:
                form.add_error(None, str(token_error))
            status = 400
        summary = cart_summary(cart=cart)
    # A valid token is kept, so the form's next submission is still the same checkout.
    token = request.POST["checkout_token"] if checkout_key else services.checkout_token_issue(cart=cart)
    return render(
        request, "orders/checkout.html", {"form": form, "summary": summary, "checkout_token": token}, status=status
    )


ORDER_NOT_FOUND = (
    "We found no order with that number and e-mail address. Check both against your confirmation mail;"
    " an order placed while logged in is in your order history."
)


@require_http_methods(["GET", "POST"])
def order_lookup_view(request: HttpRequest) -> HttpResponse:
    """A guest finds an order by its number and e-mail; the session may then see it."""
    if request.method == "GET":
        return render(request, "orders/order_lookup.html", {"form": OrderLookupForm()})
    # Spent before the form is validated: every try counts, well-formed or not.
    wait = address_budget_spend(
        request=request, scope="order_lookup", limit=settings.ORDERS_LOOKUPS_PER_IP, window_seconds=3600
    )
    if wait:
        refused = try_again_message(reason="Too many look-ups from your network", seconds=wait)
        response = render(
            request, "orders/order_lookup.html", {"form": OrderLookupForm(), "refused": refused}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    # Bound even to an empty body, so a post without fields is told what is missing.
    form = OrderLookupForm(request.POST)
    if not form.is_valid():
        return render(request, "orders/order_lookup.html", {"form": form}, status=400)
    order = order_for_guest(number=form.cleaned_data["number"], email=form.cleaned_data["email"])
    if order is None:
        form.add_error(None, ORDER_NOT_FOUND)
        return render(request, "orders/order_lookup.html", {"form": form}, status=404)
    return _order_shown(request, order=order, just_placed=False)


@require_GET
def order_detail_view(request: HttpRequest, number: str) -> HttpResponse:
    order = order_visible_to(number=number, user=request.user, session=request.session)
    if order is None:
        raise Http404("No such order.")
    just_placed = request.session.pop("just_placed", None) == order.number
    return render(request, "orders/order_detail.html", {"order": order, "just_placed": just_placed})


@require_GET
@login_required
def order_history_view(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/order_history.html", {"orders": order_list_for_user(user=request.user)})
