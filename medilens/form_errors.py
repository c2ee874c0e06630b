"""A service's refusal shown on the form that asked for it: each field's errors on that field, the rest
(and errors of fields the form does not have) as the form's own errors."""

from django.core.exceptions import ValidationError


def add_form_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
