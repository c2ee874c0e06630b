"""A second step before an action that cannot be undone with one click (remove a member, change a role,
revoke an invitation or an API key).

The protection lives on the server, not in a script: the action's view acts only on a POST that carries
``confirm=yes``, which only the confirmation page sends. A GET, or a POST without the field (an old page,
a hand-made request, a double click on the list), shows the confirmation page and changes nothing.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"


def is_confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_page(
    request, *, title: str, question: str, confirm_label: str, cancel_url: str, hidden: dict | None = None,
    consequences: str = "", danger: bool = True, status: int = 200,
):
    return render(
        request,
        "accounts/confirm.html",
        {
            "title": title,
            "question": question,
            "consequences": consequences,
            "confirm_label": confirm_label,
            "cancel_url": cancel_url,
            "hidden": hidden or {},
            "danger": danger,
            "confirm_field": CONFIRM_FIELD,
            "confirm_value": CONFIRM_VALUE,
        },
        status=status,
    )


def error_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [m for msgs in error.message_dict.values() for m in msgs]
    return list(error.messages)


def perform(request, action, *, missing: type[Exception], not_found: str, success, then: str):
    """Run a confirmed action's service and go back to ``then``: a row the service cannot find in the
    organization is a 404, a refusal becomes error messages, and ``success`` (a text, or a function of what
    the service returned) the success message."""
    try:
        result = action()
    except missing:
        raise Http404(not_found) from None
    except ValidationError as error:
        for message in error_messages(error):
            messages.error(request, message)
    else:
        messages.success(request, success(result) if callable(success) else success)
    return redirect(then)
