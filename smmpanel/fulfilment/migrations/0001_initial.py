"""SimulatedService: the simulated kind's knobs, moved here from catalog.Service (copied, then dropped there)."""

import django.db.models.deletion
from django.db import migrations, models


def copy_knobs(apps, schema_editor):
    Service = apps.get_model("catalog", "Service")
    SimulatedService = apps.get_model("fulfilment", "SimulatedService")
    SimulatedService.objects.bulk_create(
        SimulatedService(
            service_id=s.pk,
            units_per_minute=s.sim_units_per_minute,
            partial_percent=s.sim_partial_percent,
            post_every_seconds=s.sim_post_every_seconds,
        )
        for s in Service.objects.filter(fulfilment="simulated")
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SimulatedService",
            fields=[
                (
                    "service",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="simulated",
                        serialize=False,
                        to="catalog.service",
                    ),
                ),
                ("units_per_minute", models.PositiveIntegerField(default=6000, help_text="Delivery pace.")),
                (
                    "partial_percent",
                    models.PositiveSmallIntegerField(
                        default=0, help_text="Chance (in %) that an order stops short and ends Partial."
                    ),
                ),
                (
                    "post_every_seconds",
                    models.PositiveIntegerField(
                        default=30, help_text="Subscriptions: how often the watched account posts."
                    ),
                ),
            ],
            options={
                "verbose_name": "simulated fulfilment",
            },
        ),
        migrations.RunPython(copy_knobs, migrations.RunPython.noop),
    ]
