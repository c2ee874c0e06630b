from django.urls import path

from . import views

urlpatterns = [
    path("webhooks/", views.EndpointListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:pk>/", views.EndpointDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:pk>/rotate/", views.EndpointRotateView.as_view(), name="webhook-rotate"),
    path("webhooks/<uuid:pk>/deliveries/", views.DeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<uuid:pk>/deliveries/<uuid:delivery_pk>/resend/",
        views.DeliveryResendView.as_view(),
        name="webhook-delivery-resend",
    ),
]
