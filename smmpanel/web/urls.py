"""Routes of the customer panel (namespace "web"); each page group's views live in smmpanel/web/views/."""

from django.urls import path

from smmpanel.web.views import account, apikey, funds, home, neworder, orders, payments, services, tickets, updates

app_name = "web"

urlpatterns = [
    path("", home.landing, name="landing"),
    # Signing up, in and out; passwords; preferences (views/account.py).
    path("signup/", account.signup, name="signup"),
    path("signup/sent/", account.signup_sent, name="signup-sent"),
    path("signup/confirm/again/", account.signup_confirm_again, name="signup-confirm-again"),
    path("signup/confirm/<uidb64>/<token>/", account.signup_confirm, name="signup-confirm"),
    path("login/", account.login, name="login"),
    path("logout/", account.logout, name="logout"),
    path("password/change/", account.password_change, name="password-change"),
    path("password/reset/", account.password_reset, name="password-reset"),
    path("password/reset/sent/", account.password_reset_sent, name="password-reset-sent"),
    path("password/reset/<uidb64>/<token>/", account.password_reset_confirm, name="password-reset-confirm"),
    path("password/reset/done/", account.password_reset_done, name="password-reset-done"),
    path("settings/", account.settings, name="settings"),
    # The catalog (views/services.py).
    path("services/", services.catalog, name="services"),
    # What changed in it (views/updates.py).
    path("updates/", updates.updates, name="updates"),
    # Placing orders (views/neworder.py).
    path("order/", neworder.new_order, name="new-order"),
    path("order/fields/", neworder.service_fields, name="order-fields"),
    path("order/charge/", neworder.charge, name="order-charge"),
    path("order/mass/", neworder.mass_order, name="mass-order"),
    # Following them (views/orders.py).
    path("orders/", orders.order_list, name="orders"),
    path("orders/<int:pk>/", orders.order_detail, name="order"),
    path("orders/<int:pk>/refill/", orders.refill, name="order-refill"),
    path("orders/<int:pk>/cancel/", orders.cancel, name="order-cancel"),
    path("refills/", orders.refill_list, name="refills"),
    path("dripfeed/", orders.dripfeed_list, name="dripfeed"),
    path("subscriptions/", orders.subscription_list, name="subscriptions"),
    # Money (views/funds.py).
    path("funds/", funds.funds, name="funds"),
    path("funds/ledger.csv", funds.ledger_csv, name="ledger-csv"),
    # Adding funds through the payment gateways (views/payments.py); names as agreed in issue 15.
    path("funds/add/", payments.add_funds, name="funds_add"),
    path("funds/payments/", payments.payment_list, name="payments"),
    path("funds/payments/<int:pk>/", payments.payment_detail, name="payment"),
    # The API key and the API's documentation (views/apikey.py).
    path("api/", apikey.key_page, name="api-key"),
    path("api/key/new/", apikey.regenerate, name="api-key-new"),
    path("api/docs/", apikey.docs, name="api-docs"),
    path("api/smmpanel-client.zip", apikey.client_download, name="api-client"),
    # Support tickets (views/tickets.py).
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/new/", tickets.ticket_new, name="ticket-new"),
    path("tickets/<int:pk>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/reply/", tickets.ticket_reply, name="ticket-reply"),
    path("tickets/<int:pk>/close/", tickets.ticket_close, name="ticket-close"),
]
