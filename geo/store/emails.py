"""The e-mails of followed areas, written in the language of the subscription.

A subscription records the language of the page the user followed the area from
(``subscriptions.language``); each delivery carries it. :mod:`geo.store.subscriptions` sends
a single notification as :func:`subject` and :func:`body`, several as one digest
(:func:`digest_subject`, :func:`digest_body`), all in that language. A notification's summary
is stored in English (:data:`geo.store.notify.SUMMARIES`) and written again in the reader's
language by :func:`localize_summary`: states and priorities by name, numbers with the
language's separators, the strip's reason through :func:`geo.detect.reasons.localize_reason`.
English e-mails are the stored summaries as they are. Everything stays plain text, one
summary per line (:func:`geo.store.notify.plain_line`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from geo.detect.reasons import localize_reason
from geo.i18n import Translator, fill_template, rewrite_number, template_pattern
from geo.i18n import marked as _
from geo.store.notify import SUMMARIES, UNKNOWN, WHERE, WHERE_COUNTRY, plain_line
from geo.store.states import priority_names, state_names

__all__ = ["body", "digest_body", "digest_subject", "localize_summary", "subject"]

SUBJECT_MAX = 150
SUBJECT = _("[Atalaya] {summary}")
FOLLOW_ONE = _("You receive this because you follow this area in Atalaya; unfollow it on the "
               "alerts page.")
FOLLOW_MANY = _("You receive this because you follow these areas in Atalaya; unfollow them on "
                "the alerts page.")
ALERT_LINE = _("Alert: #{id}")
AREA_LINE = _("Area you follow: {area}")
WHEN_LINE = _("When: {when} UTC")
STATE_LINE = _("State: {old} -> {new} (by {actor})")
IMAGERY_LINE = _("On the imagery: {old} -> {new} (from {actor})")
DIGEST_SUBJECT = _("[Atalaya] {n} notifications: {parts}")
DIGEST_HEAD = _("{n} notifications in areas you follow ({areas}), {when} UTC.")
SPAN = _("{first} to {last}")
SECTION = _("{heading} ({n})")
#: Sections of a digest, in order: kind -> heading, and its count in the subject (1, more).
DIGEST_KINDS = {"new_alert": (_("New alerts"), _("{n} new alert"), _("{n} new alerts")),
                "state_change": (_("State changes"), _("{n} state change"),
                                 _("{n} state changes")),
                "imagery_change": (_("Changes on the imagery"), _("{n} change on the imagery"),
                                   _("{n} changes on the imagery"))}
_TIME = "%Y-%m-%d %H:%M"


def _imagery_names(t: Translator) -> dict[str, str]:
    """States of a strip on the imagery, by name (the map legend's words)."""
    return {"new": t("New"), "active": t("Active"), "overgrown": t("Overgrown"),
            "destroyed": t("Destroyed"), "reopened": t("Reopened"), UNKNOWN: t(UNKNOWN)}


def _state(value: str | None, kind: str, t: Translator) -> str:
    """Write a state as the e-mail says it: its name in lower case (English: its code)."""
    if t.language == "en" or value is None:
        return str(value or UNKNOWN)
    names = _imagery_names(t) if kind == "imagery_change" else state_names(t)
    return names.get(value, value).lower()


@lru_cache(maxsize=8)
def _pattern(template: str) -> re.Pattern[str]:
    return template_pattern(template)


def _number(value: str, t: Translator) -> str:
    return rewrite_number(value, t.number) or value


def localize_summary(summary: str, kind: str, t: Translator) -> str:
    """Write a stored English summary in ``t``'s language (as stored when no template fits).

    Examples
    --------
    >>> localize_summary("Runway alert #4 in VRAEM (PE) moved from new to confirmed by luis.",
    ...                  "state_change", Translator("es"))
    'La alerta de pista #4 en VRAEM (PE) pasó de nueva a confirmada por luis.'
    """
    template = SUMMARIES.get(kind)
    if template is None or t.language == "en":
        return summary
    m = _pattern(template).match(summary)
    if m is None:
        return summary
    values = m.groupdict()
    where = values["where"]
    for form in (WHERE_COUNTRY, WHERE):
        found = _pattern(form).match(where)
        if found is not None:
            where = fill_template(form, found.groupdict(), t) or where
            break
    values["where"] = where
    if kind == "new_alert":
        values["score"] = _number(values["score"], t)
        values["length"] = _number(values["length"], t)
        values["priority"] = priority_names(t).get(values["priority"],
                                                   values["priority"]).lower()
        values["reason"] = localize_reason(values["reason"], t, t.number)
    else:
        values["old"] = _state(values["old"], kind, t)
        values["new"] = _state(values["new"], kind, t)
    shown = fill_template(template, values, t)
    return summary if shown is None else plain_line(shown)


def subject(item: Mapping[str, Any], t: Translator) -> str:
    """Subject of the e-mail of one notification (one line)."""
    return plain_line(t(SUBJECT).format(summary=localize_summary(item["summary"], item["kind"],
                                                                 t)), SUBJECT_MAX)


def body(item: Mapping[str, Any], t: Translator) -> str:
    """Plain-text body of the e-mail of one notification."""
    kind = item["kind"]
    lines = [localize_summary(item["summary"], kind, t), "",
             t(ALERT_LINE).format(id=item["alert_id"]),
             t(AREA_LINE).format(area=plain_line(item["area_name"])),
             t(WHEN_LINE).format(when=f"{item['created_at']:{_TIME}}")]
    if kind in ("state_change", "imagery_change"):
        line = STATE_LINE if kind == "state_change" else IMAGERY_LINE
        lines.append(t(line).format(old=_state(item["old_state"], kind, t),
                                    new=_state(item["new_state"], kind, t),
                                    actor=plain_line(item["actor"], 200)))
    lines += ["", t(FOLLOW_ONE)]
    return "\n".join(lines) + "\n"


def digest_subject(batch: Sequence[Mapping[str, Any]], t: Translator) -> str:
    """Subject of a digest: how many notifications, of which kinds (one line).

    Examples
    --------
    >>> batch = [{"kind": "new_alert"}] * 3 + [{"kind": "imagery_change"}]
    >>> digest_subject(batch, Translator("en"))
    '[Atalaya] 4 notifications: 3 new alerts, 1 change on the imagery'
    """
    counts = Counter(item["kind"] for item in batch)
    parts = [t(one if counts[kind] == 1 else many).format(n=t.number(counts[kind]))
             for kind, (_heading, one, many) in DIGEST_KINDS.items() if counts[kind]]
    return plain_line(t(DIGEST_SUBJECT).format(n=t.number(len(batch)), parts=", ".join(parts)),
                      SUBJECT_MAX)


def digest_body(batch: Sequence[Mapping[str, Any]], t: Translator) -> str:
    """Plain-text body of a digest: one line per notification, by kind, oldest first."""
    areas = ", ".join(dict.fromkeys(plain_line(item["area_name"]) for item in batch))
    first, last = (f"{f(item['created_at'] for item in batch):{_TIME}}" for f in (min, max))
    when = first if first == last else t(SPAN).format(first=first, last=last)
    lines = [t(DIGEST_HEAD).format(n=t.number(len(batch)), areas=plain_line(areas),
                                   when=when), ""]
    for kind, (heading, *_counts) in DIGEST_KINDS.items():
        part = sorted((i for i in batch if i["kind"] == kind),
                      key=lambda i: (i["created_at"], i["id"]))
        if part:
            lines += [t(SECTION).format(heading=t(heading), n=t.number(len(part)))]
            lines += [f"- {localize_summary(item['summary'], kind, t)}" for item in part]
            lines += [""]
    lines += [t(FOLLOW_MANY)]
    return "\n".join(lines) + "\n"
