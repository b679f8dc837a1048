"""URLs of the catalog."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("search/", views.search_view, name="search"),
    path("search/suggest/", views.suggest_view, name="suggest"),
    path("d/<slug:slug>/", views.department_view, name="department"),
    path("c/<slug:slug>/", views.category_view, name="category"),
    path("p/<slug:slug>/", views.product_view, name="product"),
    path("p/<slug:slug>/review/", views.review_view, name="review"),
    path("images/placeholder/<int:pk>.svg", views.placeholder_view, name="placeholder"),
]
