"""The owner's dashboard sums orders by day over the last 30 days: an index on created carrying what it sums."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_history_fencing_and_post_numbers"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["created", "status", "paid_by_parent", "charge", "refunded"], name="order_created"
            ),
        ),
    ]
