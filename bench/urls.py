"""The shop's URLs plus /bench/noop, a view that does nothing: the baseline the collector is measured against."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from shop.urls import handler500  # noqa: F401 - the shop's error pages under these URLs too


@csrf_exempt
def noop_view(request: HttpRequest) -> HttpResponse:
    """Goes through the same middleware as the collector and leaves the body unread."""
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/noop", noop_view, name="bench-noop"),
    path("", include("shop.urls")),
]
