"""Job messages and errors: stored in English, shown in the reader's language.

A job's progress and closing message, and the error of a failed job, are written by a
runner that has no reader and no language, and read later by anyone: in the log and the CLI
as well as in the app. So they are stored as plain English text made from the templates
below, and the app translates them when it shows them (:func:`localize`): the stored text is
matched against every template, and a match is shown as the translated template with the
same values. Text made from no template (an exception's own message) is shown as written.

Templates are marked with ``_`` (:func:`geo.i18n.marked`) so ``make messages`` extracts them.
A message with a count has a singular and a plural form (:func:`geo.i18n.plural_marked`,
written by :func:`english`), shown in the language's form for the count; the "scene(s)" text
that earlier versions stored for it is read as the same message.

An error that carries a :class:`geo.i18n.Message` (a refused scene, say) is stored as its
English text in ``error`` and, whole, in the job's ``result`` (:func:`error_result`), from
which :func:`localize_error` writes it again in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from geo.i18n import (
    Message,
    Translator,
    message_from_json,
    message_of,
    message_to_json,
    plural_marked,
    template_pattern,
)
from geo.i18n import marked as _

# -- written by the job handlers (geo.jobs.handlers) ---------------------------------------------
DETECT_SCENE = _("scene {k} of {n}: {name}")
DETECT_WINDOWS = _("scene {k} of {n}: {name}, {done} of {total} windows")
DETECT_MERGING = _("merging the candidates into the alerts")
DETECT_DONE = _("{candidates} candidate(s) from {scenes} scene(s)")
DETECT_DONE_ABSENT = _("{candidates} candidate(s) from {scenes} scene(s); {absent} known "
                       "strip(s) not found where a scene saw the ground clearly")
INGEST_READING = _("reading {name}")
INGEST_CHECKING = _("checking the scene")
INGEST_STORING = _("storing the scene")
INGEST_RESAMPLING = _("storing the scene: resampling it onto its UTM grid, {rows} of {total} "
                      "rows")
INGEST_DONE = plural_marked("{added} scene stored, {skipped} already there",
                            "{added} scenes stored, {skipped} already there")
EXPORT_WRITING = _("writing {formats}")
EXPORT_DONE = plural_marked("snapshot {snapshot}: {files} file",
                            "snapshot {snapshot}: {files} files")
EXPORT_PARTLY = plural_marked("snapshot {snapshot}: {files} file; not written: {formats}",
                             "snapshot {snapshot}: {files} files; not written: {formats}")
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
# -- errors of a failed job (the ``error`` column); an exception's own text stays as written --
NEEDS_SCENE = _("a detection job needs at least one scene")
WRONG_MAPPING = _("an ingest job imports scenes; the mapping is for {layer}")
NO_SCENE_READ = _("no scene could be read: {reasons}")
NO_SCENE_IN_AREA = _("no readable scene reaches the area {area}")
IMPORT_GONE = _("the file to import ({name}) is gone from the server; upload it again")
NOTHING_TO_IMPORT = _("nothing to import: {report}")
NOTHING_EXPORTED = _("no file of the snapshot could be written: {reasons}")
STOPPED_UNASKED = _("stopped without a cancel request: {error}")
CRASHED = _("{kind}: {error} (an error in Atalaya; the log has the details)")
NOT_STORED = _("its results could not be stored: {error}")
RUNNER_LOST = _("its runner ({owner}) stopped answering during attempt {attempt} of "
                "{attempts} (last heartbeat {beat}): the app was killed or crashed. Nothing "
                "of this run was stored; start it again")

TEMPLATES: tuple[str, ...] = (  # the first that matches a message is used
    DETECT_WINDOWS, DETECT_SCENE, DETECT_MERGING, DETECT_DONE_ABSENT, DETECT_DONE,
    INGEST_READING, INGEST_CHECKING, INGEST_RESAMPLING, INGEST_STORING, EXPORT_WRITING,
    EXPORT_ALREADY,
    CANCEL_ASKED,
    CANCELLED_BEFORE, HANDED_BACK, CANCELLED_SHUTDOWN, CANCELLED_STOPPED, REQUEUED,
    STOPPED_BETWEEN, WHY_CANCEL, WHY_HANDED_ON, NEVER, *STATES, NEEDS_SCENE, WRONG_MAPPING,
    NO_SCENE_READ, NO_SCENE_IN_AREA, IMPORT_GONE, NOTHING_TO_IMPORT, NOTHING_EXPORTED,
    STOPPED_UNASKED, CRASHED, NOT_STORED, RUNNER_LOST)
#: Messages of two forms: (singular, plural), the count that chooses, and the text of the
#: same message stored by versions before 2026-12-05 ("3 scene(s) stored").
PLURALS: tuple[tuple[tuple[str, str], str, str], ...] = (
    (INGEST_DONE, "added", "{added} scene(s) stored, {skipped} already there"),
    (EXPORT_PARTLY, "files", "snapshot {snapshot}: {files} file(s); not written: {formats}"),
    (EXPORT_DONE, "files", "snapshot {snapshot}: {files} file(s)"),
)
#: Fields holding counts, written with the reader's separators (not ids: "job 1234").
_COUNTS = frozenset({"k", "n", "candidates", "scenes", "absent", "added", "skipped", "files",
                     "attempt", "attempts", "done", "total", "rows"})
#: Fields shown exactly as stored: names, ids and such. Any other value that is itself a
#: message (the reason a job stopped, inside the error that says so) is translated too.
_VERBATIM = frozenset({"name", "user", "owner", "snapshot", "formats", "id", "kind", "layer"})


def english(forms: tuple[str, str], count: str, **values: object) -> str:
    """Write a message of two forms (:data:`PLURALS`) in English: singular for a count of 1.

    Examples
    --------
    >>> english(EXPORT_DONE, "files", snapshot="0a1b2c3d", files=1)
    'snapshot 0a1b2c3d: 1 file'
    """
    return forms[0 if values[count] == 1 else 1].format(**values)


#: A template: one form, or two forms and the field holding their count.
_Template = tuple[str, tuple[str, str] | None, str | None]


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], _Template], ...]:
    """One anchored regular expression per stored form, its fields as named groups.

    A template of one form comes first in :data:`TEMPLATES` order; then each form of the
    :data:`PLURALS` (their texts cannot match a template of one form).
    """
    one: list[tuple[re.Pattern[str], _Template]] = [
        (template_pattern(template), (template, None, None)) for template in TEMPLATES]
    two: list[tuple[re.Pattern[str], _Template]] = [
        (template_pattern(text), (forms[0], forms, count))
        for forms, count, legacy in PLURALS for text in (*forms, legacy)]
    return tuple(one + two)


def _form(translate: Callable[[str], str], template: _Template,
          values: Mapping[str, str]) -> str:
    """Return the translated template to fill: the language's form for the count, if two."""
    text, forms, count = template
    if forms is None or count is None:
        return translate(text)
    raw = values[count].replace(",", "")
    n = int(raw) if raw.isdigit() else 0
    many = getattr(translate, "n", None)  # a Translator; a plain function: English's rule
    if many is not None:
        return str(many(forms[0], forms[1], n))
    return translate(forms[0 if n == 1 else 1])


def localize(message: str, translate: Callable[[str], str],
             number: Callable[[int], str] = str) -> str:
    """Show a stored job message (or error) in the reader's language.

    ``translate`` maps an English template to its translation (a
    :class:`~geo.i18n.Translator`), ``number`` writes a whole number in the reader's
    convention (the counts among the values). A message matching no template is
    returned as it is; so is every part of one that matches none (an exception's text).

    Examples
    --------
    >>> localize("12 candidate(s) from 3 scene(s)", lambda s: s.replace("from", "in"))
    '12 candidate(s) in 3 scene(s)'
    >>> localize("disk full", lambda s: s.replace("from", "in"))
    'disk full'
    """
    for pattern, template in _patterns():
        m = pattern.match(message)
        if m is None:
            continue
        stored = m.groupdict()
        values = {k: (number(int(v)) if k in _COUNTS and v.isdigit() else
                      v if k in _VERBATIM or k in _COUNTS else localize(v, translate, number))
                  for k, v in stored.items()}
        try:
            return _form(translate, template, stored).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation with broken fields
            return message
    return message


#: Key of a failed job's ``result`` holding its error as a stored :class:`Message`.
ERROR_MESSAGE = "error_message"


def error_result(exc: BaseException) -> dict[str, Any] | None:
    """Return the ``result`` of a job failed by ``exc``: its Message, stored whole (or None)."""
    found = message_of(exc)
    return {ERROR_MESSAGE: message_to_json(found)} if isinstance(found, Message) else None


def localize_error(error: str, result: Mapping[str, Any] | None, t: Translator) -> str:
    """Show a failed job's error in ``t``'s language.

    From the Message stored in ``result`` (:func:`error_result`) when there is one, else by
    matching the stored text against the templates (:func:`localize`).
    """
    shown = stored_localized((result or {}).get(ERROR_MESSAGE), t)
    return localize(error, t, t.number) if shown is None else shown


def stored_localized(stored: object, t: Translator) -> str | None:
    """Write a Message stored as JSON (:func:`~geo.message.message_to_json`) in ``t``'s language.

    None when nothing is stored, or what is stored is damaged or foreign (the caller then
    shows the English text kept beside it).
    """
    if stored is None:
        return None
    try:
        return message_from_json(stored).localized(t)
    except ValueError:
        return None
