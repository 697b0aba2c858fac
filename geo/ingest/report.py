"""The validation report shown before anything is stored, and the rejected rows as CSV."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.i18n import Message, Translator, localize
from geo.i18n import marked as _
from geo.ingest.mapping import Mapping
from geo.ingest.text import neutralise

PROVENANCE = ("source_file", "source_sha256", "imported_by", "imported_at")
#: Kinds of row reasons (:meth:`ImportReport.reason_counts`) that are words, not field names:
#: the interface translates them.
REASON_KINDS = (_("coordinates"), _("geometry"))


@dataclass(frozen=True)
class RejectedRow:
    """One refused row: its 1-based position below the header, and why."""

    row: int
    reason: str


@dataclass
class ImportReport:
    """Outcome of validating one file for one layer; nothing has been stored yet.

    Attributes
    ----------
    layer, source, sha256, file_format
        What was validated (``source`` is the safe file name).
    n_rows
        Data rows read.
    accepted
        Accepted rows in the layer contract (EPSG:4326, UTC times) plus the provenance
        columns ``source_file``, ``source_sha256``, ``imported_by``, ``imported_at``; its index
        is the 0-based source row.
    rejected
        One row per refused source row: ``row`` (1-based), ``reason`` (every reason, ``; ``
        separated), then the source columns as read.
    warnings
        Things repaired or assumed (encoding, reprojection, repaired geometry, day-first
        dates, HTML in text...).
    mapping
        The mapping that was applied.
    files
        Files to copy into the data folder on commit (scenes), by identifier.
    """

    layer: str
    source: str
    sha256: str
    file_format: str
    n_rows: int
    accepted: gpd.GeoDataFrame
    rejected: pd.DataFrame
    warnings: list[str]
    mapping: Mapping
    imported_by: str
    imported_at: pd.Timestamp
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """``{"rows": n, "accepted": a, "rejected": r}``."""
        return {"rows": self.n_rows, "accepted": len(self.accepted),
                "rejected": len(self.rejected)}

    @property
    def ok(self) -> bool:
        """True when at least one row was accepted."""
        return len(self.accepted) > 0

    def rejected_rows(self) -> list[RejectedRow]:
        """Refused rows with their reasons, in file order."""
        return [RejectedRow(int(r), str(m)) for r, m in
                zip(self.rejected["row"], self.rejected["reason"], strict=True)]

    def reason_counts(self) -> Counter[str]:
        """How many rows were refused for each kind of reason (text before the first colon).

        A row refused for several reasons (its coordinates and its quantity) counts under
        each of their kinds, once per kind.
        """
        return Counter(kind for r in self.rejected["reason"] for kind in _kinds(r))

    def rejected_csv(self, t: Translator | None = None) -> bytes:
        """Rejected rows as UTF-8 CSV (with BOM, for Excel), formula cells neutralised.

        A cell that would start a spreadsheet formula (``=``, ``+``, ``-``, ``@``) gets a
        leading apostrophe, so opening the file runs nothing. The reasons are written in
        ``t``'s language (English without it).
        """
        frame = self.rejected
        if t is not None:
            frame = frame.assign(reason=[localize(r, t) for r in frame["reason"]])
        frame = frame.astype("string").fillna("")
        frame = frame.map(neutralise)
        frame.columns = [neutralise(str(c)) for c in frame.columns]
        buf = io.StringIO()
        frame.to_csv(buf, index=False)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")

    def format(self, *, max_rows: int = 50) -> str:
        """Plain-text report: counts, warnings, reasons, then refused rows (at most max_rows)."""
        c = self.counts
        lines = [f"{self.source} -> {self.layer}: {c['rows']} row(s), {c['accepted']} "
                 f"accepted, {c['rejected']} rejected (sha256 {self.sha256[:12]})"]
        lines += [f"  warning: {w}" for w in self.warnings]
        for kind, count in self.reason_counts().most_common():
            lines.append(f"  rejected {count} x {kind}")
        for rej in self.rejected_rows()[:max_rows]:
            lines.append(f"  row {rej.row}: {rej.reason}")
        if len(self.rejected) > max_rows:
            lines.append(f"  ... {len(self.rejected) - max_rows} more rejected row(s)")
        return "\n".join(lines)


def _kinds(reason: object) -> set[str]:
    """Kinds of the reasons joined in one rejected row's ``reason`` (text before a colon)."""
    if isinstance(reason, Message) and reason.template == "; ".join(
            f"{{p{i}}}" for i in range(len(reason.values))):
        parts = [str(v) for v in reason.values.values()]  # the parts, as joined
    else:
        parts = str(reason).split("; ")
    return {p.split(":")[0].strip() for p in parts if p.strip()}
