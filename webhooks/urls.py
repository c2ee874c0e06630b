from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.EndpointsView.as_view(), name="endpoints"),
    path("webhooks/<uuid:pk>/rotate/", views.EndpointActionView.as_view(action="rotate"), name="endpoint_rotate"),
    path("webhooks/<uuid:pk>/toggle/", views.EndpointActionView.as_view(action="toggle"), name="endpoint_toggle"),
    path("webhooks/<uuid:pk>/delete/", views.EndpointActionView.as_view(action="delete"), name="endpoint_delete"),
    path("webhooks/deliveries/<uuid:pk>/resend/", views.ResendView.as_view(), name="delivery_resend"),
    path("webhooks/api-clients/<int:pk>/grant/", views.ClientGrantView.as_view(), name="client_grant"),
]
