"""Verifying the audit trail: every chain walked, then compared with the newest checkpoint.

Per chain: the legacy SHA-256 segment (1..cut-over, each hash recomputed, each link followed, ending
at the hash the cut-over recorded), then every seal in sequence order (no gap, each previous-MAC link,
each MAC recomputed with the key it names over the event as it is now), then events that have no seal.
Then the newest valid checkpoint: a chain it names must still hold the MAC it recorded at the sequence
it recorded. That catches what a chain cannot show by itself: its newest events removed, the whole chain
removed, or the chain rebuilt from some point on.

What cannot be checked is said, never passed: a missing or wrong key, unreadable checkpoint storage, no
checkpoint at all, seals made with a key that is not configured.
"""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from . import checkpoints, keys
from .models import AuditEvent, AuditSeal, ChainCutover, PendingSeal
from .sealing import GENESIS, seal_mac


@dataclass
class ChainResult:
    organization_id: int | None
    label: str
    count: int = 0
    head_sequence: int = 0
    problem: str | None = None  # tampering found (the first one)
    not_checked: str | None = None  # what could not be checked, and why
    notes: list = field(default_factory=list)


@dataclass
class Report:
    chains: list = field(default_factory=list)
    checkpoint: checkpoints.Checkpoint | None = None
    problems: list = field(default_factory=list)  # about the checkpoints themselves
    not_checked: list = field(default_factory=list)
    restores: list = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return bool(self.problems) or any(chain.problem for chain in self.chains)

    @property
    def incomplete(self) -> bool:
        return bool(self.not_checked) or any(chain.not_checked for chain in self.chains)


def _where(seal: AuditSeal) -> str:
    return f"seal #{seal.sequence} (event id={seal.event_id} action={seal.event.action})"


def _legacy(result: ChainResult, cutover) -> str:
    """Walk the legacy segment; returns the hash the keyed chain must link to (genesis without one)."""
    if cutover is None:
        return GENESIS
    expected_sequence, previous_hash = 1, GENESIS
    events = AuditEvent.objects.filter(organization_id=result.organization_id, sequence__lte=cutover.sequence)
    for event in events.order_by("sequence", "id").iterator(chunk_size=2000):
        where = f"legacy event id={event.pk} sequence={event.sequence} action={event.action}"
        if event.sequence != expected_sequence:
            result.problem = f"{where}: expected sequence {expected_sequence} (a row was removed or inserted)"
        elif event.legacy_previous_hash != previous_hash:
            result.problem = f"{where}: previous-hash link broken (rows re-ordered or inserted)"
        elif event.legacy_hash is None or event.compute_hash() != event.legacy_hash:
            result.problem = f"{where}: content does not match its hash (row was changed)"
        if result.problem:
            return previous_hash
        result.count += 1
        previous_hash = event.legacy_hash
        expected_sequence += 1
    if expected_sequence - 1 != cutover.sequence or previous_hash != cutover.hash:
        result.problem = (
            f"the legacy segment ends at sequence {expected_sequence - 1} but the cut-over recorded "
            f"sequence {cutover.sequence} with another hash (legacy rows removed, or the segment recomputed)"
        )
    return previous_hash


def _check_seal(seal: AuditSeal, expected_sequence: int, previous_mac: str, known: dict) -> str | None:
    if seal.sequence != expected_sequence:
        return f"{_where(seal)}: expected seal #{expected_sequence} (a sealed event was removed or inserted)"
    if seal.previous_mac != previous_mac:
        return f"{_where(seal)}: previous-MAC link broken (seals re-ordered, removed or inserted)"
    if seal.event.organization_id != seal.organization_id:
        return f"{_where(seal)}: the event belongs to another chain (moved)"
    if not keys.constant_time_equal(seal_mac(known[seal.key_id], seal, seal.event), seal.mac):
        return f"{_where(seal)}: the event does not match its seal (changed after sealing, or a forged seal)"
    return None


def _sealed(result: ChainResult, start_sequence: int, start_mac: str, known: dict) -> None:
    expected_sequence, previous_mac = start_sequence + 1, start_mac
    seals = AuditSeal.objects.filter(organization_id=result.organization_id).select_related("event")
    for seal in seals.order_by("sequence").iterator(chunk_size=2000):
        if seal.key_id not in known:
            result.not_checked = (
                f"seal #{seal.sequence} and later were made with key id {seal.key_id}, which AUDIT_HMAC_KEY "
                "does not hold (wrong or missing key): they were not checked"
            )
            return
        result.problem = _check_seal(seal, expected_sequence, previous_mac, known)
        if result.problem:
            return
        result.count += 1
        previous_mac = seal.mac
        expected_sequence += 1
    result.head_sequence = expected_sequence - 1


def _unsealed(result: ChainResult, cutover) -> None:
    events = AuditEvent.objects.filter(organization_id=result.organization_id).filter(
        ~Exists(AuditSeal.objects.filter(event=OuterRef("pk")))
    )
    if cutover is not None:
        events = events.filter(sequence__gt=cutover.sequence)
    ids = list(events.order_by("id").values_list("id", flat=True)[:1000])
    if not ids:
        return
    queued = set(PendingSeal.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
    stray = [event_id for event_id in ids if event_id not in queued]
    if stray:
        result.problem = (
            f"event id={stray[0]} is neither sealed nor queued for sealing ({len(stray)} such event(s)): "
            "written outside the audit service, or its seal was removed"
        )
    elif queued:
        result.notes.append(f"{len(queued)} event(s) appended during verification are not sealed yet: not checked")


def verify_one_chain(organization_id: int | None, label: str, known: dict) -> ChainResult:
    result = ChainResult(organization_id, label)
    cutover = ChainCutover.objects.filter(organization_id=organization_id).first()
    start_mac = _legacy(result, cutover)
    if result.problem:
        return result
    start_sequence = cutover.sequence if cutover is not None else 0
    result.head_sequence = start_sequence
    _sealed(result, start_sequence, start_mac, known)
    if result.problem or result.not_checked:
        return result
    _unsealed(result, cutover)
    return result


def compare_with_checkpoint(result: ChainResult, entry: dict, checkpoint: checkpoints.Checkpoint) -> None:
    """The chain against what the checkpoint recorded for it. A chain already broken keeps its first
    problem; the comparison still runs for chains that verified, which is where it matters."""
    if result.problem or result.not_checked:
        return
    recorded = entry["sequence"]
    when = f"the checkpoint of {checkpoint.written_at}"
    if result.count == 0 and result.head_sequence == 0:
        result.problem = (
            f"{when} holds {entry['count']} events; the database holds none: the chain was removed whole"
        )
    elif result.head_sequence < recorded:
        result.problem = (
            f"{when} holds {entry['count']} events (head #{recorded}); the database chain ends at "
            f"#{result.head_sequence}: the newest {recorded - result.head_sequence} event(s) were removed"
        )
    elif checkpoints.database_value_at(result.organization_id, recorded) != entry["mac"]:
        result.problem = f"#{recorded} does not match {when}: the chain was rebuilt (events removed or changed)"


# --- the whole trail ---------------------------------------------------------------------------------
def _chain_ids_in_database() -> set:
    found = set(AuditEvent.objects.order_by().values_list("organization_id", flat=True).distinct())
    found |= set(AuditSeal.objects.order_by().values_list("organization_id", flat=True).distinct())
    found |= set(ChainCutover.objects.order_by().values_list("organization_id", flat=True).distinct())
    return found


def _label(chain: int | None, slugs: dict, entry: dict | None) -> str:
    if chain is None:
        return "platform"
    slug = slugs.get(chain) or (entry or {}).get("slug") or ""
    return f"organization {slug}" if slug and chain in slugs else f"organization {slug or '?'} (id {chain}, deleted)"


def _restore_lines(checkpoint: checkpoints.Checkpoint, only) -> list[str]:
    lines = []
    for restore in checkpoint.payload.get("restores", []):
        backup = f" to a backup of {restore['backup_taken_at']}" if restore.get("backup_taken_at") else ""
        for lost in restore.get("lost", []):
            if only is not None and lost["organization"] != only:
                continue
            label = "platform" if lost["organization"] is None else f"organization {lost['slug']}"
            lines.append(
                f"{label}: the database was restored at {restore['restored_at']}{backup}; the chain was restored "
                f"to sequence {lost['restored_sequence']} and events up to #{lost['checkpointed_sequence']} "
                f"(checkpointed at {lost['checkpoint_written_at']}) were lost in the restore"
            )
    return lines


def _checkpoint_findings(report: Report, latest: checkpoints.Latest) -> None:
    for name, reason in latest.invalid:
        report.problems.append(f"checkpoint {name}: {reason}")
    for name, key_id in latest.unknown_key:
        report.not_checked.append(
            f"checkpoint {name} is signed with key id {key_id}, which AUDIT_HMAC_KEY does not hold (wrong key?)"
        )


def verify_trail(*, organization_id=..., slugs: dict | None = None) -> Report:
    """Verify every chain (or only ``organization_id``'s; None is the platform chain) against the newest
    valid checkpoint."""
    from accounts.models import Organization

    report = Report()
    try:
        known = keys.by_id()
    except keys.KeyProblem as problem:
        report.not_checked.append(str(problem))
        return report
    try:
        latest = checkpoints.read_latest()
    except checkpoints.CheckpointUnavailable as problem:
        report.not_checked.append(str(problem))
        latest = checkpoints.Latest(None)
    _checkpoint_findings(report, latest)
    report.checkpoint = latest.checkpoint
    recorded = report.checkpoint.chains() if report.checkpoint else {}
    slugs = slugs if slugs is not None else dict(Organization.objects.values_list("pk", "slug"))
    chain_ids = _chain_ids_in_database() | set(recorded)
    if organization_id is not ...:
        chain_ids = {organization_id}
    for chain in sorted(chain_ids, key=lambda value: (value is not None, value or 0)):
        entry = recorded.get(chain)
        result = verify_one_chain(chain, _label(chain, slugs, entry), known)
        if entry is not None:
            compare_with_checkpoint(result, entry, report.checkpoint)
        elif result.count and not (result.problem or result.not_checked):
            result.not_checked = (
                f"its {result.count} events verify as a chain, but no checkpoint holds it: the removal of its newest "
                "events could not be checked"
            )
        report.chains.append(result)
    has_events = any(result.count or result.problem for result in report.chains)
    if report.checkpoint is None and has_events and not report.not_checked:
        report.not_checked.append(
            f"no checkpoint under {checkpoints._prefix()}/ in the checkpoint storage: the removal of the newest "
            "events or of a whole chain could not be checked"
        )
    if report.checkpoint is not None:
        report.restores = _restore_lines(report.checkpoint, None if organization_id is ... else organization_id)
    return report
