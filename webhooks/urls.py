from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.EndpointsView.as_view(), name="endpoints"),
    path("webhooks/deliveries/<uuid:pk>/resend/", views.ResendView.as_view(), name="delivery_resend"),
    path("webhooks/api-clients/<int:pk>/grant/", views.ClientGrantView.as_view(), name="client_grant"),
]
