from django import forms

from .kinds import EMAIL_CHOICE, Kind


class EmailPreferencesForm(forms.Form):
    email = forms.MultipleChoiceField(
        required=False,
        label="Email me when",
        widget=forms.CheckboxSelectMultiple,
        choices=[(kind.value, Kind(kind).label) for kind in EMAIL_CHOICE],
        help_text="Every notification also appears under the bell. Emails say what happened and link to it; "
        "they never carry patient data.",
    )
