"""The home page and the health check."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from personalization.api import page_context
from shop.catalog.selectors import departments_with_categories, products_newest


@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    context = {
        "departments": departments_with_categories(),
        "newest": products_newest(limit=8),
        **page_context(request, "home"),
    }
    return render(request, "home.html", context)


@require_GET
@never_cache
def health_view(request: HttpRequest) -> JsonResponse:
    """For load balancers and the compose healthcheck: the database answers a query."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
