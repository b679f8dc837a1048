"""URLs of tracking."""

from django.urls import path

from . import views

app_name = "tracking"

urlpatterns = [
    path("collect", views.collect_view, name="collect"),
    path("consent", views.consent_view, name="consent"),
    path("session", views.session_view, name="session"),
]
