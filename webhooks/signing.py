"""Standard Webhooks signatures (standardwebhooks.com), made with the ``standardwebhooks`` package."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks import Webhook


def headers(*, message_id: str, secrets: list[str], body: bytes, at: datetime) -> dict[str, str]:
    """The headers of one attempt: its own timestamp (receivers refuse old ones, so a retry is signed anew)
    and one signature per secret, space-separated (both secrets for a while after a rotation)."""
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "Content-Type": "application/json",
        "User-Agent": "MediLens-Webhooks/1",
    }
