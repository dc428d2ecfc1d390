# The idempotency store moves from the api app to orders (the API's add and the
# web's order forms both use it). The api app's table is taken over as it is
# (state only), then renamed to this app's name.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("api", "0001_initial"),
        ("orders", "0005_order_resend_permission"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotentAdd",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("key", models.CharField(max_length=255)),
                        ("request_digest", models.CharField(max_length=64)),
                        ("answer", models.JSONField(null=True)),
                        ("created", models.DateTimeField(db_index=True)),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.account"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "api_idempotentadd",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("account", "key"), name="one_idempotent_add_per_account_key"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="idempotentadd", table=None),
    ]
