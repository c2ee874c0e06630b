from django import forms
from django.core.validators import RegexValidator

from .models import AuditEvent

# An action name ("membership.role_changed") or a group of them ("membership"): letters, digits, _ and dots.
_ACTION_SHAPE = RegexValidator(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", "Choose one of the listed actions.")


def action_choices(actions: list[str]) -> list:
    """The select's options: every action of this organization's log, grouped by its first word, each group
    led by an entry for all of its actions."""
    groups: dict[str, list[str]] = {}
    for action in sorted(actions):
        groups.setdefault(action.split(".", 1)[0], []).append(action)
    choices: list = [("", "Any action")]
    for group, members in groups.items():
        options = [(group, f"All {group} events")] if members != [group] else []
        choices.append((group, [*options, *((action, action) for action in members)]))
    return choices


class AuditFilterForm(forms.Form):
    # A list of the actions the log holds, not free text. A name the list does not offer (a bookmark made
    # before the first such event) still filters, to nothing; a value no action could have is refused.
    action = forms.CharField(
        label="Action", required=False, max_length=100, validators=[_ACTION_SHAPE], widget=forms.Select
    )
    actor = forms.CharField(label="Actor", required=False, max_length=200)
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices])
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].widget.choices = action_choices(list(actions))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data
