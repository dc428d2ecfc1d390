"""The gateways' notification endpoint: POST /payments/notify/<gateway name>/."""

from django.urls import path

from smmpanel.payments import views

app_name = "payments"

urlpatterns = [path("notify/<slug:name>/", views.notify, name="notify")]
