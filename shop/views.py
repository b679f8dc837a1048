"""The home page, the health check and the server error page."""

import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import server_error

from personalization.api import page_context
from shop.catalog.navigation import navigation
from shop.catalog.selectors import products_newest

# Seconds a client is asked to wait while the database does not answer: about what a Postgres
# restart takes on this project's machine (a few seconds).
DATABASE_RETRY_AFTER = 5


@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    # Personalization first: its round trip reads the catalogue version the newest products are kept under.
    personal = page_context(request, "home")
    context = {"departments": navigation(), "newest": products_newest(limit=8), **personal}
    return render(request, "home.html", context)


@require_GET
@never_cache
def health_view(request: HttpRequest) -> JsonResponse:
    """For load balancers and the compose healthcheck: the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return _unavailable(JsonResponse({"status": "unavailable", "detail": "the database does not answer"}))
    return JsonResponse({"status": "ok"})


def server_error_view(request: HttpRequest) -> HttpResponse:
    """handler500. A database that cannot be reached (restarting, down) is no bug of the page:
    the shopper gets a 503 with Retry-After, which browsers, crawlers and load balancers read as
    "come back shortly". Django calls this inside its handler of the uncaught exception, from
    whichever layer raised it (a view, a template, a middleware), so sys.exc_info() names it.
    Like Django's own, it renders without a request context: no database, no context processors."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return _unavailable(HttpResponse(loader.render_to_string("503.html")))
    return server_error(request)


def _unavailable(response: HttpResponse) -> HttpResponse:
    response.status_code = 503
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response
