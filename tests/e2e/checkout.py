"""What a shopper types at checkout in the browser tests, and placing the order."""


def checkout_place(page, *, email: str = "eve@example.com") -> None:
    """On the checkout page: fill the address and the test card, place the order, wait for it."""
    page.fill("input[name=full_name]", "Eve Tester")
    page.fill("input[name=email]", email)
    page.fill("input[name=address_line1]", "3 Browser Street")
    page.fill("input[name=city]", "Bristol")
    page.fill("input[name=postcode]", "BS1 4DJ")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    page.click("button:has-text('Place order')")
    page.wait_for_url("**/orders/LL-*/")
