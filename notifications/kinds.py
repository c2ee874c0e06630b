"""The kinds of notification: what each says, and whether it is emailed unless the user says otherwise.

What a notification says is the kind of event and a link, never patient data: the text below is all an
email carries (a test reads every kind's email for the patient's name, MRN and date of birth).
"""

from django.db import models


class Kind(models.TextChoices):
    ASSESSMENT_COMPLETED = "assessment_completed", "An assessment you requested has completed"
    ASSESSMENT_FAILED = "assessment_failed", "An assessment you requested has failed"
    HIGH_RISK = "high_risk", "A result is high risk"
    MENTION = "mention", "You were mentioned in a discussion"
    BULK_ACCESS = "bulk_access", "Unusual bulk access to patient records"


# Emailed unless the user turns it off on the preferences page.
EMAIL_BY_DEFAULT = {
    Kind.ASSESSMENT_COMPLETED: True,
    Kind.ASSESSMENT_FAILED: True,
    Kind.HIGH_RISK: True,
    Kind.MENTION: True,
    Kind.BULK_ACCESS: False,
}
# The audit monitor already emails every org admin about bulk access (audit/bulk_access.py), and a
# security alert is not something an admin may switch off: its notification is in-app only here.
EMAIL_CHOICE = [kind for kind in Kind if kind != Kind.BULK_ACCESS]

EMAIL_LINES = {
    Kind.ASSESSMENT_COMPLETED: "An assessment you requested has completed. Its results are ready to read.",
    Kind.ASSESSMENT_FAILED: "An assessment you requested has failed. The reason is on its page; you can retry it.",
    Kind.HIGH_RISK: "An assessment in your organization has a high-risk result waiting for review.",
    Kind.MENTION: "Someone mentioned you in the discussion of an assessment.",
    Kind.BULK_ACCESS: "The audit trail detected unusual bulk access to patient records.",
}
