"""Factories of carts and orders."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from shop.orders.models import Cart, CartLine, Order, OrderLine, OrderNotification

from .catalog import ProductFactory


class CartFactory(DjangoModelFactory):
    class Meta:
        model = Cart

    user = None


class CartLineFactory(DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1


class CheckoutFormFactory(factory.DictFactory):
    """What a shopper types into the checkout form; the test card number is accepted."""

    full_name = "Ada Lovelace"
    email = "ada@example.com"
    address_line1 = "1 Analytical Row"
    city = "London"
    postcode = "N1 1AA"
    country = "GB"
    card_number = "4242 4242 4242 4242"


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"LL-T{n:06d}")
    user = factory.SubFactory("tests.factories.accounts.UserFactory")
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "guest@example.com")
    status = Order.Status.PAID
    full_name = factory.Faker("name")
    address_line1 = factory.Faker("street_address")
    city = factory.Faker("city")
    postcode = factory.Faker("postcode")
    country = "GB"
    subtotal = Decimal("20.00")
    shipping = Decimal("4.95")
    total = Decimal("24.95")


class OrderLineFactory(DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda o: o.product.sku)
    title = factory.LazyAttribute(lambda o: o.product.title)
    unit_price = Decimal("10.00")
    quantity = 2
    line_total = Decimal("20.00")


class OrderNotificationFactory(DjangoModelFactory):
    """A mail still owed, as checkout leaves it when no worker could be asked to send it."""

    class Meta:
        model = OrderNotification

    order = factory.SubFactory(OrderFactory)
    kind = OrderNotification.Kind.CONFIRMATION
