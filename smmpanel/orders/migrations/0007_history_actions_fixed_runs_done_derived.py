"""The history's actions and actors from fixed sets, checked by the database; Order.runs_done removed.

runs_done was shown in the admin and never written (always 0): how many of a
drip-feed's runs were delivered follows from total and remains, and is now
derived where it is shown (smmpanel.orders.selectors.runs_done), as the
customer's pages already did. A drip-feed run refused upstream was recorded as
"run N refused", one action per run number: now "run refused", the number in
the message, so that the existing rows pass the new CHECK.
"""

from django.conf import settings
from django.db import migrations, models


def one_run_refused_action(apps, schema_editor):
    OrderEvent = apps.get_model("orders", "OrderEvent")
    for event in OrderEvent.objects.filter(action__startswith="run ", action__endswith=" refused"):
        number = event.action[len("run ") : -len(" refused")]
        event.action = "run refused"
        event.message = f"Run {number}: {event.message}"[:1000]
        event.save(update_fields=["action", "message"])


def numbered_run_refused_action(apps, schema_editor):
    OrderEvent = apps.get_model("orders", "OrderEvent")
    for event in OrderEvent.objects.filter(action="run refused", message__startswith="Run "):
        number, _, message = event.message[len("Run ") :].partition(": ")
        event.action = f"run {number} refused"[:40]
        event.message = message
        event.save(update_fields=["action", "message"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0006_idempotentadd_from_api"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(one_run_refused_action, numbered_run_refused_action, elidable=True),
        migrations.RemoveField(
            model_name="order",
            name="runs_done",
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("placed", "Placed"),
                    ("status", "Status"),
                    ("cancel requested", "Cancel Requested"),
                    ("refill requested", "Refill Requested"),
                    ("refill status", "Refill Status"),
                    ("needs attention", "Needs Attention"),
                    ("resumed", "Resumed"),
                    ("placed upstream", "Placed Upstream"),
                    ("run refused", "Run Refused"),
                    ("cancel sent upstream", "Cancel Sent Upstream"),
                    ("cancel refused upstream", "Cancel Refused Upstream"),
                    ("refill sent upstream", "Refill Sent Upstream"),
                    ("resend", "Resend"),
                    ("add not placed", "Add Not Placed"),
                ],
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="actor",
            field=models.CharField(
                choices=[
                    ("api", "Api"),
                    ("web", "Web"),
                    ("mass order", "Mass Order"),
                    ("worker", "Worker"),
                    ("admin", "Admin"),
                    ("provider", "Provider"),
                    ("system", "System"),
                ],
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="orderevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "action__in",
                        [
                            "placed",
                            "status",
                            "cancel requested",
                            "refill requested",
                            "refill status",
                            "needs attention",
                            "resumed",
                            "placed upstream",
                            "run refused",
                            "cancel sent upstream",
                            "cancel refused upstream",
                            "refill sent upstream",
                            "resend",
                            "add not placed",
                        ],
                    )
                ),
                name="orderevent_action_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="orderevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("actor__in", ["api", "web", "mass order", "worker", "admin", "provider", "system"])
                ),
                name="orderevent_actor_known",
            ),
        ),
    ]
