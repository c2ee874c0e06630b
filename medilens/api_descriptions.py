"""What the API documentation says each operation does, written for a partner's developer.

The schema takes an operation's description from here and never from a docstring: docstrings are written
for MediLens's own developers (drf-spectacular would otherwise show the inherited one of the API's base
view, "Base of every API view..."). A test fails for an operation missing here, so a new endpoint cannot
reach the docs undescribed.
"""

_IDEMPOTENT = (
    " Send an `Idempotency-Key` header to retry safely: the same key with the same body answers the first "
    "request's result again and creates nothing; with a different body it is a 409."
)
_SIGNED_URL = (
    " The answer is a short-lived URL (valid for `expires_in` seconds) to fetch the file itself; every "
    "download is recorded in the organization's audit log."
)

OPERATION_DESCRIPTIONS: dict[str, str] = {
    "organization_retrieve": "The organization this API key acts for. Use it to check that a key works and "
    "which clinic it belongs to.",
    "patients_list": "The organization's patients, most recently active first, a page at a time (follow "
    "`next`). `q` searches by MRN or name.",
    "patients_create": "Register a patient. The MRN must be unique within the organization; where the "
    "organization requires it, consent must be recorded." + _IDEMPOTENT,
    "patients_retrieve": "One patient's record.",
    "patients_update": "Replace a patient's record (every field).",
    "patients_partial_update": "Change some fields of a patient's record.",
    "patients_biomarkers_retrieve": "One biomarker's values over time for a patient (e.g. for a trend chart): "
    "`name` is the biomarker, `days` how far back to look (90 by default).",
    "assessments_list": "The organization's assessments, newest first, a page at a time (follow `next`). "
    "Filter by patient, modality, status or creation time. Result fields are included when the key may see results.",
    "assessments_create": "Request an assessment of a patient for one modality. Send the modality's structured "
    "`inputs` as JSON, or a multipart request with its input `files` (the schema lists each modality's inputs "
    "and accepted files). The assessment is queued and analysed in the background: poll it, or follow its "
    "`status`, until it is `completed` or `failed` (with a reason)." + _IDEMPOTENT,
    "assessments_retrieve": "One assessment: its status and, once completed and if the key may see results, "
    "its biomarkers, score (with label, unit and source), risk level and explanation.",
    "assessments_attachments_list": "The files attached to an assessment (inputs and supporting documents).",
    "assessments_attachments_create": "Attach more files to an assessment (multipart, field `files`)."
    + _IDEMPOTENT,
    "assessments_cancel_create": "Cancel an assessment that has not finished. An assessment already completed, "
    "failed or cancelled answers 409." + _IDEMPOTENT,
    "assessments_retry_create": "Queue a failed assessment again with the same inputs. Any other status "
    "answers 409." + _IDEMPOTENT,
    "assessments_reanalyse_create": "Analyse a completed assessment again (e.g. after an analyzer upgrade). The "
    "result becomes a new version beside the earlier ones, which are kept (see the artifacts list); the "
    "assessment reads as not signed off until someone signs the new version. Any other status answers 409; "
    "a key without the permission to manage assessments gets 403." + _IDEMPOTENT,
    "assessments_explanation_image_retrieve": "The assessment's explanation image (e.g. a heat map over the "
    "input image), when its modality makes one; 404 otherwise." + _SIGNED_URL,
    "files_download_retrieve": "Download one uploaded file." + _SIGNED_URL,
    "webhooks_list": "The organization's webhook endpoints: URL, the events each receives, whether it is enabled "
    "or failing. Secrets are never listed. Needs the `webhooks.manage` permission.",
    "webhooks_retrieve": "One webhook endpoint (without its secret).",
    "webhooks_update": "Replace a webhook endpoint's URL, events and enabled state. The secret is unchanged: "
    "rotate it to change it.",
    "webhooks_partial_update": "Change some of a webhook endpoint's settings (URL, events, enabled, description).",
    "webhooks_destroy": "Delete a webhook endpoint and its delivery records; events not yet delivered to it are "
    "not sent.",
    "webhooks_deliveries_list": "An endpoint's deliveries, newest first: event, status, attempts, and the last "
    "response's status code and time (never its body).",
}
