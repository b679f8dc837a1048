"""URLs of accounts."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register_view, name="register"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("privacy/", views.privacy_view, name="privacy"),
    path("privacy/download/", views.privacy_download_view, name="privacy_download"),
    path("privacy/erase/", views.privacy_erase_view, name="privacy_erase"),
]
