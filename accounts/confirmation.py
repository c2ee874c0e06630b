"""A second step before an action that cannot be undone with one click (remove a member, change a role,
revoke an invitation or an API key).

The protection lives on the server, not in a script: the action's view acts only on a POST that carries
``confirm=yes``, which only the confirmation page sends. A GET, or a POST without the field (an old page,
a hand-made request, a double click on the list), shows the confirmation page and changes nothing.
"""

from django.shortcuts import render

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
