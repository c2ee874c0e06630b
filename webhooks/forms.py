from django import forms

from .models import EVENT_TYPES


class EndpointForm(forms.Form):
    """The URL's checks (https, where it points) are the service's: its reasons come back on ``url``."""

    url = forms.CharField(
        label="URL", max_length=2000, help_text="Where events are POSTed, e.g. https://ehr.example.org/hooks/medilens"
    )
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in EVENT_TYPES], widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    description = forms.CharField(max_length=200, required=False)
