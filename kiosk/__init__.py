"""Patient (kiosk) mode: the cognitive battery done by the patient on the clinician's signed-in device.

``views`` and ``urls`` are its pages (mounted at ``cognitive/``), ``session`` what the session holds while it
runs, ``middleware`` what keeps the session on the kiosk's pages, and ``services`` its writes (each audited).
The battery itself (what it presents, how it is scored) is the cognitive modality, ``modalities.cognitive``;
the responses become an assessment through ``assessments.services.create_assessment``.
"""
