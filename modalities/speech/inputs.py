"""The speech inputs: which task the recording is (the file itself is checked by ``decoding`` and ``voicing``)."""

from __future__ import annotations

from ..inputs import Choice, InputSchema
from .catalogue import DEFAULT_TASK, TASKS


class SpeechInputs(InputSchema):
    not_an_object = "Inputs must be a JSON object."
    unknown_input = "Unknown input for the speech analysis (it takes only 'task')."
    example = {"task": "sustained_vowel"}

    task = Choice(
        label="Recording task",
        choices=list(TASKS.items()),
        initial=DEFAULT_TASK,
        required=False,
        allow_null=True,
        help_text="Jitter, shimmer and HNR norms (and the voice-quality score) apply to a sustained vowel only; "
        "pause and speaking rate to connected speech only.",
        error_messages={"invalid_choice": f"Choose one of: {', '.join(TASKS)}."},
    )

    def resolved(self, data, patient) -> dict:
        return {"task": data.get("task") or DEFAULT_TASK}
