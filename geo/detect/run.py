"""Run detection over many scenes, serially or on a Dask ``distributed.Client``.

Every (scene, window) pair is one task; the same function runs in both modes and the results
are assembled in task order, so a distributed run returns exactly what a serial run does.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.detect.params import DetectionParams
from geo.detect.scene import assemble_scene, detect_scene_window, scene_windows
from geo.detect.scorer import Scorer
from geo.detect.window import RawCandidate
from geo.errors import AtalayaError
from geo.imagery import SceneInfo, read_scene_info
from geo.schema import CANDIDATES, empty_layer


@dataclass(frozen=True)
class RunResult:
    """Candidates of every readable scene, and (file, message) for each refused one."""

    candidates: gpd.GeoDataFrame
    failures: tuple[tuple[str, str], ...]


def _open_all(paths: Sequence[str], bands: Mapping[str, int] | None
              ) -> tuple[list[SceneInfo], list[tuple[str, str]]]:
    infos, failures = [], []
    for p in paths:
        try:
            infos.append(read_scene_info(p, bands=bands))
        except (AtalayaError, OSError) as exc:
            failures.append((str(p), str(exc)))
    return infos, failures


def _run_tasks(tasks: list[tuple[Any, ...]], client: Any, progress: bool
               ) -> list[list[RawCandidate]]:
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="windows", unit="win", disable=not progress,
               file=sys.stderr)
    if client is None:
        out = []
        for t in tasks:
            out.append(detect_scene_window(*t))
            bar.update()
    else:
        from distributed import as_completed

        futures = client.map(detect_scene_window, *zip(*tasks, strict=True), pure=False)
        for _ in as_completed(futures):
            bar.update()
        out = client.gather(futures)
    bar.close()
    return list(out)


def detect_scenes(paths: Sequence[str], *, bands: Mapping[str, int] | None = None,
                  params: DetectionParams | None = None, scorer: Scorer | None = None,
                  min_score: float | None = None, aerodromes: gpd.GeoDataFrame | None = None,
                  client: Any = None, progress: bool = False) -> RunResult:
    """Candidates of many scenes (CANDIDATES layer plus ``scene``), failures listed.

    Parameters
    ----------
    client
        A ``distributed.Client`` to map the windows on; None runs them in this process.
    progress
        Show a tqdm bar on stderr.
    """
    params = params or DetectionParams()
    gen = params.permissive() if scorer is not None else params
    infos, failures = _open_all(paths, bands)
    pairs = tuple(sorted(bands.items())) if bands is not None else None
    tasks, owner = [], []
    for k, info in enumerate(infos):
        for key in scene_windows(info, gen):
            tasks.append((str(info.path), pairs, key, gen))
            owner.append(k)
    found = _run_tasks(tasks, client, progress)
    frames = []
    for k, info in enumerate(infos):
        raw = [c for o, cands in zip(owner, found, strict=True) if o == k for c in cands]
        frames.append(assemble_scene(info, raw, scorer=scorer, min_score=min_score,
                                     aerodromes=aerodromes, params=params))
    full = [f for f in frames if len(f)]
    if full:
        out = gpd.GeoDataFrame(pd.concat(full, ignore_index=True), crs=4326)
    else:
        out = frames[0] if frames else empty_layer(CANDIDATES)
    return RunResult(candidates=out, failures=tuple(failures))
