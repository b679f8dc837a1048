"""Attaches the tracking context to each request and keeps the consent-bound cookies right."""

from .identity import context_from_request, cookies_apply


class TrackingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tracking = context_from_request(request)
        response = self.get_response(request)
        if not request.path.startswith(("/static/", "/media/")):
            cookies_apply(response, request.tracking, secure=request.is_secure(), carried=request.COOKIES)
        return response
