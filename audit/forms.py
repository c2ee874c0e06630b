from django import forms

from .models import AuditEvent


class AuditFilterForm(forms.Form):
    action = forms.CharField(label="Action", required=False, max_length=100, help_text="e.g. membership or auth.login")
    actor = forms.CharField(label="Actor", required=False, max_length=200)
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices])
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data
