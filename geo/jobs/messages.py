"""Job messages: stored in English, shown in the reader's language.

A job's progress and closing message is written by a runner that has no reader and no
language, and it is read later by anyone, in the log and the CLI as well as in the app. So
it is stored as plain English text made from one of the templates below, and the app
translates it when it shows it (:func:`localize`): the stored text is matched against every
template, and a match is shown as the translated template with the same values. A message
made from no template (an exception's text) is shown as written.

Templates are marked with :func:`_` so ``make messages`` extracts them into the catalogues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


def _(text: str) -> str:
    """Mark ``text`` as a template to translate where it is shown (returned unchanged)."""
    return text


# -- written by the job handlers (geo.jobs.handlers) ---------------------------------------------
DETECT_SCENE = _("scene {k} of {n}: {name}")
DETECT_MERGING = _("merging the candidates into the alerts")
DETECT_DONE = _("{candidates} candidate(s) from {scenes} scene(s)")
INGEST_READING = _("reading {name}")
INGEST_CHECKING = _("checking the scene")
INGEST_STORING = _("storing the scene")
INGEST_DONE = _("{added} scene(s) stored, {skipped} already there")
EXPORT_WRITING = _("writing {formats}")
EXPORT_DONE = _("snapshot {snapshot}: {files} file(s)")
EXPORT_ALREADY = _("snapshot {snapshot} was already stored")
# -- written by the queue (geo.jobs.queue) and the runner (geo.jobs.runner) ---------------------
CANCEL_ASKED = _("cancel asked by {user}")
CANCELLED_BEFORE = _("cancelled by {user} before it ran")
HANDED_BACK = _("handed back: its runner was shut down")
CANCELLED_SHUTDOWN = _("cancelled (runner shut down)")
CANCELLED_STOPPED = _("cancelled: its runner stopped (last heartbeat {beat})")
REQUEUED = _("re-queued: its runner stopped answering (last heartbeat {beat}); attempt "
             "{attempt} of {attempts} will follow")
STOPPED_BETWEEN = _("job {id} stopped between steps: {why}")
WHY_CANCEL = _("cancel asked")
WHY_HANDED_ON = _("it was handed to another runner")
NEVER = _("never")  # no heartbeat yet
#: A job that ends without a message of its own has its state as message.
FAILED = _("failed")
STATES = (_("queued"), _("running"), _("cancelling"), _("cancelled"), _("succeeded"), FAILED)

TEMPLATES: tuple[str, ...] = (
    DETECT_SCENE, DETECT_MERGING, DETECT_DONE, INGEST_READING, INGEST_CHECKING, INGEST_STORING,
    INGEST_DONE, EXPORT_WRITING, EXPORT_DONE, EXPORT_ALREADY, CANCEL_ASKED, CANCELLED_BEFORE,
    HANDED_BACK, CANCELLED_SHUTDOWN, CANCELLED_STOPPED, REQUEUED, STOPPED_BETWEEN, *STATES)
#: Fields holding counts, written with the reader's separators (not ids: "job 1234").
_COUNTS = frozenset({"k", "n", "candidates", "scenes", "added", "skipped", "files", "attempt",
                     "attempts"})
#: Values that are themselves templates (translated too when a message holds them).
_NESTED = frozenset({WHY_CANCEL, WHY_HANDED_ON, NEVER})
_FIELD = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """One anchored regular expression per template, its fields as named groups."""
    out = []
    for template in TEMPLATES:
        parts = _FIELD.split(template)  # literal, field, literal, field, ..., literal
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)"
                        for i, p in enumerate(parts))
        out.append((re.compile(f"{regex}\\Z", re.DOTALL), template))
    return tuple(out)


def localize(message: str, translate: Callable[[str], str],
             number: Callable[[int], str] = str) -> str:
    """Show a stored job message in the reader's language.

    ``translate`` maps an English template to its translation (a
    :class:`~geo.i18n.Translator`), ``number`` writes a whole number in the reader's
    convention (the counts among the values). A message matching no template is
    returned as it is.

    Examples
    --------
    >>> localize("12 candidate(s) from 3 scene(s)", str.upper)
    '12 CANDIDATE(S) FROM 3 SCENE(S)'
    >>> localize("disk full", str.upper)
    'disk full'
    """
    for pattern, template in _patterns():
        m = pattern.match(message)
        if m is None:
            continue
        values = {k: (number(int(v)) if k in _COUNTS and v.isdigit() else
                      translate(v) if v in _NESTED else v) for k, v in m.groupdict().items()}
        try:
            return translate(template).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation with broken fields
            return message
    return message
