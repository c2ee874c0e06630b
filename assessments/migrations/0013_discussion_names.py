"""The discussion gets one name: ChatThread/ChatMessage become Discussion/DiscussionMessage, the message's
``thread`` becomes ``discussion``. A rename in Django's state only: the tables and the column keep their
names (db_table, db_column pinned), since sealed message bodies carry their table and column in their
associated data and must open as before. Nothing in the database changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0012_patient_mrn_index_unique"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterModelTable(name="chatthread", table="assessments_chatthread"),
                migrations.AlterModelTable(name="chatmessage", table="assessments_chatmessage"),
                migrations.RenameModel(old_name="ChatThread", new_name="Discussion"),
                migrations.RenameModel(old_name="ChatMessage", new_name="DiscussionMessage"),
                migrations.RenameField(model_name="discussionmessage", old_name="thread", new_name="discussion"),
                migrations.AlterField(
                    model_name="discussionmessage",
                    name="discussion",
                    field=models.ForeignKey(
                        db_column="thread_id",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="assessments.discussion",
                    ),
                ),
                migrations.AlterField(
                    model_name="discussion",
                    name="assessment",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="discussion",
                        to="assessments.assessment",
                    ),
                ),
            ],
        ),
    ]
