# The idempotency store is the orders app's now (orders 0005 took the table over
# and renamed it): the api app forgets the model, without touching the table.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("orders", "0006_idempotentadd_from_api"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotentAdd")],
            database_operations=[],
        ),
    ]
