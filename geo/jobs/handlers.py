"""The three kinds of background job: detection, imagery ingest, large export.

Each handler is a thin wrapper over the existing pipeline (``geo.detect``, ``geo.ingest``,
``geo.export``): it splits the work into steps, reports progress and checks for a cancel
between them, and returns what to store. Each kind also has a parameter builder
(:func:`detect_params`, :func:`ingest_params`, :func:`export_params`) that puts the request in
canonical form, so two users asking for the same work get the same dedupe key.

Results are stored as follows:

- **detect**: the candidates are merged into the alerts by :func:`merge_into` *in the
  transaction that marks the job succeeded*; a job killed before it commits stores nothing,
  and merging is idempotent, so a re-run after a restart stores each alert once. So are the
  job's *looks* (:func:`absence_looks`): where a dated scene saw an alert's ground clearly
  and found nothing, the alert records an absence and its detection state follows
  (destroyed, reopened, new).
- **ingest**: :func:`geo.ingest.commit` stores the scene all or nothing; a re-run finds it
  stored (a duplicate) and adds nothing. The file the app kept for the job
  (:func:`geo.ingest.keep_upload`) is removed when the job ends, whatever its outcome.
- **export**: the snapshot goes to a history folder named after the job (a re-run rewrites
  that folder) and is recorded in the store once.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select

from geo.detect.lifecycle import MIN_OVERLAP, overlap_share
from geo.errors import AtalayaError, DataNotFoundError, JobError
from geo.jobs import messages as msg
from geo.jobs.runner import Handler, JobContext, JobOutcome
from geo.message import Message, join_messages, message_to_json
from geo.store import tables as t
from geo.store.engine import Store, read_tx
from geo.store.merge import MIN_CLEAR, Look, merge_in

if TYPE_CHECKING:
    from geo.export.spec import SnapshotSpec
    from geo.ingest import Mapping as IngestMapping

__all__ = ["BUILTIN_HANDLERS", "detect_params", "export_params", "ingest_params", "job_area",
           "merge_into", "run_detect", "run_export", "run_ingest"]

log = logging.getLogger("atalaya.jobs")

#: Names the snapshot of an export job (uuid5 of the job): a re-run writes the same one.
_SNAPSHOT_NAMESPACE = uuid.UUID("5b0d3c1e-6a57-4c8e-9a43-1d2f7e0a9c11")


# -- parameters ---------------------------------------------------------------------------------

def detect_params(scenes: Sequence[str | Path], *, rules_only: bool = False,
                  min_score: float | None = None, aerodromes: bool = True,
                  detection: Mapping[str, Any] | None = None,
                  area: BaseGeometry | None = None, area_name: str | None = None
                  ) -> dict[str, Any]:
    """Canonical parameters of a detection job over ``scenes`` (absolute paths, sorted).

    ``detection`` overrides fields of :class:`~geo.detect.params.DetectionParams` (checked
    here, so a bad value is refused at submit time rather than in the background). ``area``:
    an area of interest in EPSG:4326 (:mod:`geo.detect.area`, checked here too), kept as WKT
    with ``area_name`` (what the job's card calls it); without one the keys are absent, so
    the parameters of whole-scene jobs are those of the jobs queued before areas existed.
    """
    from geo.detect.params import DetectionParams

    if not scenes:
        raise JobError(msg.NEEDS_SCENE)
    DetectionParams(**dict(detection or {}))
    out = {"scenes": sorted({str(Path(s).resolve()) for s in scenes}),
           "rules_only": bool(rules_only),
           "min_score": None if min_score is None else float(min_score),
           "aerodromes": bool(aerodromes), "detection": dict(detection or {})}
    if area is not None:
        from geo.detect.area import check_area

        canonical = shapely.normalize(check_area(area))
        out |= {"area": shapely.to_wkt(canonical, rounding_precision=9),
                "area_name": str(area_name or "")}
    return out


def job_area(params: Mapping[str, Any]) -> BaseGeometry | None:
    """Return the area of interest of a detection job's parameters (EPSG:4326), or None."""
    text = params.get("area")
    return shapely.from_wkt(text) if text else None


def ingest_params(path: str | Path, *, name: str | None = None,
                  mapping: IngestMapping | None = None) -> dict[str, Any]:
    """Parameters of a scene import from a server-side file (an upload saved by the app).

    ``mapping`` is the scenes mapping the user validated with (default: the one proposed
    from the file, as :func:`geo.ingest.propose_mapping` makes it when the job runs). A file
    the app kept with :func:`geo.ingest.keep_upload` is removed when the job ends.
    """
    from geo.ingest.upload import safe_name

    resolved = Path(path).resolve()
    params: dict[str, Any] = {"path": str(resolved), "name": safe_name(name or resolved.name),
                              "layer": "scenes"}
    if mapping is not None:
        if mapping.layer != "scenes":
            raise JobError(msg.WRONG_MAPPING.format(layer=mapping.layer))
        params["mapping"] = json.loads(mapping.check().to_json())
    return params


def export_params(spec: SnapshotSpec) -> dict[str, Any]:
    """Parameters of a snapshot export (the spec as JSON)."""
    return {"spec": spec.to_json()}


# -- detection ----------------------------------------------------------------------------------

def merge_into(conn: Connection, candidates: gpd.GeoDataFrame, *, actor: str,
               min_overlap: float = MIN_OVERLAP,
               looks: Sequence[Look] = ()) -> dict[str, list[int]]:
    """Merge candidates (and looks) into the alerts on the caller's open transaction ``conn``.

    :func:`geo.store.merge.merge_in` (the rule of ``merge_candidates``), so a job's alerts and
    its 'succeeded' state commit together. Returns the alert ids created, updated, unchanged,
    and those given an absence (``absent``: known strips a scene saw clearly without them;
    ``not_yet``: those of them seen only on a scene older than their first sighting).
    """
    if candidates.empty and not looks:
        return {"created": [], "updated": [], "unchanged": [], "absent": [], "not_yet": []}
    report = merge_in(conn, candidates, actor=actor, min_overlap=min_overlap, looks=looks)
    return {"created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "absent": report.absent,
            "not_yet": report.not_yet}


def _detect_inputs(p: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """DetectionParams, scorer and aerodromes of a detection job's parameters."""
    from geo.detect.params import DetectionParams
    from geo.detect.scorer import DEFAULT_MODEL, read_scorer

    params = DetectionParams(**p.get("detection", {}))
    scorer = None if p.get("rules_only") else read_scorer(DEFAULT_MODEL)
    aerodromes = None
    if p.get("aerodromes", True):
        from geo.aerodromes import read_registered_aerodromes

        aerodromes = read_registered_aerodromes()
    return params, scorer, aerodromes


def absence_looks(store: Store, scenes: Sequence[str], candidates: gpd.GeoDataFrame, *,
                  faint: gpd.GeoDataFrame | None = None,
                  min_overlap: float = MIN_OVERLAP,
                  area: BaseGeometry | None = None) -> list[Look]:
    """Where each dated scene saw a strip's ground clearly and found no candidate on it.

    The strips looked for are the alerts whose geometry meets the scene's footprint and this
    run's candidates of the *other* scenes (a strip of one date, looked for on the others).
    A strip a candidate of the scene overlaps (``min_overlap`` of the smaller rectangle) was
    found, not absent; a strip is looked at once per scene (an alert and this run's sighting
    of it are one strip). A strip a *faint* candidate of the scene overlaps (one the generator
    traced but that scored below the operating point: :attr:`geo.detect.run.RunResult.faint`)
    is not absent either: it may be fading, it is not clearly gone. Only looks that saw at
    least :data:`geo.store.merge.MIN_CLEAR` of the strip are returned
    (:func:`geo.detect.coverage.observed_share`: inside the scene, not nodata, not cloud).
    Scenes without an acquisition date, or that cannot be read, give none. With an ``area``
    of interest (the run kept only candidates centred in it), only strips lying
    :data:`geo.detect.area.EDGE_MARGIN_M` inside it are looked at: nearer its edge, a
    sighting centred just outside was left out, so missing one says nothing.
    """
    from geo.detect.coverage import observed_share, scene_footprint
    from geo.imagery import open_geotiff, read_scene_info
    from geo.store import list_alerts

    looks: list[Look] = []
    for scene in scenes:
        try:
            info = read_scene_info(scene, values=False)
        except AtalayaError:
            continue  # the detection reported it
        footprint = scene_footprint(info)
        if info.acquired is None or footprint.is_empty:
            continue
        when = pd.Timestamp(info.acquired, tz="UTC").to_pydatetime()
        mine = [g for frame in (candidates, faint) if frame is not None and len(frame)
                for g in frame.geometry[frame["scene_id"] == info.scene_id]]
        probes: list[tuple[int | None, BaseGeometry]] = [
            (a.id, a.geometry) for a in list_alerts(store, area=footprint)]
        if len(candidates):
            probes += [(None, g) for g, sid in zip(candidates.geometry, candidates["scene_id"],
                                                   strict=True) if sid != info.scene_id]
        if area is not None and probes:
            from geo.detect.area import watched

            inside = watched(gpd.GeoSeries([g for _, g in probes], crs=4326), area)
            probes = [p for p, keep in zip(probes, inside, strict=True) if keep]
        try:
            with open_geotiff(info.path) as src:
                for alert_id, geom in probes:
                    if not geom.intersects(footprint) or any(  # found, or looked at already
                            overlap_share(geom, m) >= min_overlap for m in mine):
                        continue
                    mine.append(geom)  # one look per strip: an alert and its new sighting
                    share = observed_share(info, geom, src=src)
                    if share >= MIN_CLEAR:
                        looks.append(Look(info.scene_id, when, geom, share, alert_id))
        except AtalayaError as exc:  # a damaged block under a strip: that scene says nothing
            log.warning("no absences from %s: %s", info.path.name, exc)
    return looks


def run_detect(ctx: JobContext) -> JobOutcome:
    """Detect scene after scene (windows on the cluster); merge the candidates on success."""
    from geo.detect.run import detect_scenes

    scenes = [str(s) for s in ctx.params["scenes"]]
    params, scorer, aerodromes = _detect_inputs(ctx.params)
    area = job_area(ctx.params)
    frames, faint, failures, blind, outside = [], [], [], [], []
    share = 0.98 / len(scenes)  # of the progress bar, per scene (then merging the alerts)
    for k, scene in enumerate(scenes):
        name = Path(scene).name
        ctx.progress(k * share, msg.DETECT_SCENE.format(k=k + 1, n=len(scenes), name=name))

        def windows_done(done: int, total: int, k: int = k, name: str = name) -> None:
            # also a heartbeat, and where a cancel stops a long scene (between its tasks)
            ctx.progress((k + done / total) * share, msg.DETECT_WINDOWS.format(
                k=k + 1, n=len(scenes), name=name, done=done, total=total))

        found = detect_scenes([scene], params=params, scorer=scorer,
                              min_score=ctx.params.get("min_score"), aerodromes=aerodromes,
                              client=ctx.client, on_windows=windows_done, area=area)
        frames += [found.candidates] if len(found.candidates) else []
        faint += [found.faint] if len(found.faint) else []
        failures += [(Path(f).name, why) for f, why in found.failures]
        blind += [Path(b).name for b in found.blind]
        outside += [Path(o).name for o in found.outside]
    if len(failures) == len(scenes):
        raise JobError(Message(msg.NO_SCENE_READ, reasons=join_messages(
            "; ", [join_messages(": ", [n, m]) for n, m in failures])))
    if outside and len(failures) + len(outside) == len(scenes):
        raise JobError(msg.NO_SCENE_IN_AREA.format(area=ctx.params.get("area_name") or "?"))
    ctx.progress(0.99, msg.DETECT_MERGING)
    cands = (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326) if frames
             else gpd.GeoDataFrame(geometry=[], crs=4326))
    unread = {f for f, _ in failures} | set(outside)
    looks = absence_looks(ctx.store, [s for s in scenes if Path(s).name not in unread], cands,
                          faint=pd.concat(faint, ignore_index=True) if faint else None,
                          area=area)
    actor = f"detector (job {ctx.job.id} of {ctx.job.created_by})"
    return JobOutcome(
        result={"scenes": len(scenes), "candidates": len(cands), "absences": len(looks),
                "failures": [failure_entry(n, m) for n, m in failures], "blind": blind,
                **({"outside": outside} if area is not None else {})},
        write=partial(merge_into, candidates=cands, actor=actor, looks=looks),
        message=partial(_detect_message, candidates=len(cands),
                        scenes=len(scenes) - len(unread)))


def _detect_message(stored: Mapping[str, Any], *, candidates: int, scenes: int) -> str:
    """Write a detection's closing line once its merge stored which alerts are absent.

    It counts the known strips not found since they were seen: ``absent`` less ``not_yet``
    (strips that were not there yet on an older scene, cleared since), not the looks.
    """
    gone = set(stored.get("absent", [])) - set(stored.get("not_yet", []))
    return (msg.DETECT_DONE_ABSENT if gone else msg.DETECT_DONE).format(
        candidates=candidates, scenes=scenes, absent=len(gone))


def failure_entry(name: str, why: str) -> list[Any]:
    """Return a skipped scene as a detection job's result lists it: name, why, message.

    ``why`` in English, then (when it is a :class:`~geo.message.Message`) the message as
    JSON, from which the app writes the reason in the reader's language (``ui.jobs``).
    Results stored before 2026-12-07 have no third item.
    """
    return [name, str(why), *([message_to_json(why)] if isinstance(why, Message) else [])]


# -- imagery ingest -----------------------------------------------------------------------------

def run_ingest(ctx: JobContext) -> JobOutcome:
    """Import one scene GeoTIFF: read it in a capped process, validate, skip a duplicate, commit.

    A file the app kept for the job (under ``<data>/uploads``) is removed when the job ends,
    stored, refused or cancelled; not when the job is handed to another runner, which needs it.
    """
    from geo.ingest import discard_kept_upload

    try:
        return _ingest_scene(ctx)
    finally:
        if not ctx.lost.is_set():  # handed on (or the runner stops): the next attempt needs it
            try:
                discard_kept_upload(ctx.params["path"], ctx.settings.data_dir)
            except AtalayaError as exc:  # the import's outcome stands
                log.warning("job %s: %s", ctx.job.id, exc, extra={"job_id": ctx.job.id})


def _ingest_scene(ctx: JobContext) -> JobOutcome:
    """Run the steps of :func:`run_ingest` (the kept file is left where it is)."""
    from geo.ingest import (
        Mapping,
        commit,
        find_duplicates,
        load_limits,
        propose_mapping,
        read_existing,
        read_source_isolated,
        receive_file,
        validate_isolated,
    )

    path, data_dir, limits = Path(ctx.params["path"]), ctx.settings.data_dir, load_limits()
    if not path.is_file():
        raise DataNotFoundError(msg.IMPORT_GONE.format(name=ctx.params["name"]))
    ctx.progress(0.05, msg.INGEST_READING.format(name=ctx.params["name"]))
    with receive_file(path, name=ctx.params["name"], limits=limits) as upload:
        source = read_source_isolated(upload, limits=limits)
        ctx.progress(0.5, msg.INGEST_CHECKING)
        mapping = (Mapping.from_json(json.dumps(ctx.params["mapping"]))
                   if ctx.params.get("mapping") else propose_mapping(source, "scenes"))
        report = validate_isolated(source, mapping, imported_by=ctx.job.created_by,
                                   limits=limits)
        if report.accepted.empty:
            raise JobError(msg.NOTHING_TO_IMPORT.format(report=report.format(max_rows=5)))
        dups = find_duplicates(report.accepted, read_existing(data_dir, "scenes"),
                               layer="scenes")
        ctx.progress(0.7, msg.INGEST_STORING)
        # the point of no return, once a scene that needs it is resampled onto UTM: a cancel
        # seen while it is (ctx.progress raises) stops the commit, which then stores nothing
        done = commit(report, data_dir, skip=dups.new_index,
                      store=ctx.store, on_rows=lambda rows, total: ctx.progress(
                          0.7 + 0.25 * rows / total,
                          msg.INGEST_RESAMPLING.format(rows=rows, total=total)))
    return JobOutcome(
        result={"layer": "scenes", "added": done.added, "skipped": done.skipped,
                "total": done.total, "scene_ids": report.accepted["scene_id"].tolist()},
        message=msg.english(msg.INGEST_DONE, "added", added=done.added,
                            skipped=done.skipped))


# -- export -------------------------------------------------------------------------------------

def _recorded(ctx: JobContext, snapshot_id: str) -> bool:
    with read_tx(ctx.store) as conn:
        return conn.execute(select(t.snapshots.c.snapshot_id)
                            .where(t.snapshots.c.snapshot_id == snapshot_id)).first() is not None


def run_export(ctx: JobContext) -> JobOutcome:
    """Write a snapshot (on the cluster) into the history and record it in the store."""
    from geo.export.manifest import MANIFEST_NAME
    from geo.export.snapshot import history_folder, make_snapshot
    from geo.export.spec import SnapshotSpec
    from geo.store.snapshots import record_snapshot

    spec = SnapshotSpec.from_json(ctx.params["spec"])
    data_dir, when = ctx.settings.data_dir, ctx.job.created_at
    sid = uuid.uuid5(_SNAPSHOT_NAMESPACE, f"{ctx.job.id}:{when.isoformat()}").hex
    folder = history_folder(data_dir, when, sid)
    result = {"snapshot_id": sid, "folder": folder.relative_to(data_dir).as_posix()}
    if _recorded(ctx, sid):  # a previous attempt got this far before its runner died
        return JobOutcome(result=result, message=msg.EXPORT_ALREADY.format(snapshot=sid[:8]))
    if folder.is_dir() and not (folder / MANIFEST_NAME).is_file():
        shutil.rmtree(folder)  # half written by a killed attempt of this very job
    ctx.progress(0.1, msg.EXPORT_WRITING.format(formats=", ".join(spec.formats)))
    manifest = ctx.offload(make_snapshot, data_dir, spec, folder, snapshot_id=sid, now=when,
                           static_dir=ctx.settings.static_dir)
    ctx.check_cancel()
    if not manifest.files:  # every format failed: nothing to keep in the history
        shutil.rmtree(folder, ignore_errors=True)
        raise JobError(msg.NOTHING_EXPORTED.format(reasons="; ".join(
            f"{fmt}: {why}" for fmt, why in manifest.failed.items()) or "-"))
    record_snapshot(ctx.store, manifest.to_json(), created_at=when, folder=result["folder"])
    done = (msg.english(msg.EXPORT_PARTLY, "files", snapshot=sid[:8], files=len(manifest.files),
                        formats=", ".join(manifest.failed)) if manifest.failed
            else msg.english(msg.EXPORT_DONE, "files", snapshot=sid[:8],
                             files=len(manifest.files)))
    return JobOutcome(result={**result, "files": [f.name for f in manifest.files],
                              "failed": dict(manifest.failed)}, message=done)


BUILTIN_HANDLERS: Mapping[str, Handler] = {
    "detect": run_detect, "ingest": run_ingest, "export": run_export}
