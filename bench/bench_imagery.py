"""Imagery display (issue 7: any view of a 10,980 px tile on screen in <= 0.5 s, bounded memory).

The tile is the detection benchmark's (``bench_detect.tile_path``: 10,980 x 10,980 px, five
uint16 bands, 512-px DEFLATE tiles), copied once under ``artifacts/bench/`` and given internal
overviews with :func:`geo.display.build_overviews` (the ingest step; its time is reported).
Each configuration (zoomed, mid-zoom and whole-tile views, the naive overlay) runs in its own
fresh child process and reports that child's own peak resident memory: the high-water mark of
its address space (``VmHWM`` in ``/proc/self/status``), not ``ru_maxrss``, which on Linux a
child inherits from the process that started it (under ``make bench`` the earlier benchmarks
had grown the parent to 4.4 GB, and every child, views and naive alike, reported 4,371 MiB).
Each peak is shown beside the child's resident memory once its imports are done, before the
first view, so what the views themselves add shows.
A *view* is a 1,280 x 800 px map: :func:`geo.display.render_view` (window read from the
overview level at most 1.2x coarser than a screen pixel, reprojection to EPSG:3857, true
colour, stretch) plus the image the browser fetches (WebP, as the page sends it; the PNG's
extra time is noted); the browser's own decode and draw (a few ms for one image) are not
included.
Zoomed views sit at random places in the tile (seed 7) at zoom 14 (about 9.4 m ground pixels
at the tile's -9 deg latitude: full resolution, 10 m, is 1.06x coarser), mid-zoom views at
zoom 12 (~38 m pixels: the 1/4 overview, 40 m); the whole-tile view shows all of it.
The first view of a scene also computes the scene's stretch from an overview (cached after).
The naive approach, measured in the same run: read the three bands whole at full resolution,
stretch, and encode one big PNG for a single ``L.imageOverlay``. ``--quick`` uses the 1,024 px
tile and fewer views.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row  # noqa: E402

VIEW_W, VIEW_H = 1280, 800
SEED = 7
TARGET_S = 0.5


def tile_with_overviews(quick: bool) -> tuple[Path, float]:
    """Return the benchmark tile's copy with overviews and the seconds the overviews took."""
    from bench.bench_detect import tile_path
    from geo.display import build_overviews

    src = tile_path(quick)
    out = src.with_name(src.stem + "_ovr.tif")
    if out.exists():
        return out, float("nan")
    part = out.with_suffix(".part.tif")
    shutil.copyfile(src, part)
    start = time.perf_counter()
    build_overviews(part)
    took = time.perf_counter() - start
    part.replace(out)
    return out, took


# -- children --------------------------------------------------------------------------------

def _own_mib(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process's own address space, MiB.

    Not ``ru_maxrss``: a child started with fork/exec (or vfork/exec) begins with its parent's
    high-water mark in it, so a big parent made every child report the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource  # no /proc: the inherited-peak caveat applies

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _peak_mib() -> float:
    return _own_mib("VmHWM")


def _tile_lonlat(path: str) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    from geo.imagery import read_scene_info

    info = read_scene_info(path)
    left, top = info.transform @ (0, 0)
    right, bottom = info.transform @ (info.width, info.height)
    return tuple(transform_bounds(info.crs_wkt, 4326, left, bottom, right, top,
                                  densify_pts=21))


def _child_views(path: str, zoom: str, count: str) -> dict[str, Any]:
    from geo.display import fit_zoom, render_view, scene_stretch, view_bounds

    w, s, e, n = _tile_lonlat(path)
    idle = _own_mib("VmRSS")  # imports done, nothing read yet
    start = time.perf_counter()
    scene_stretch(path)
    first = time.perf_counter() - start
    rng = np.random.default_rng(SEED)
    times, png_times, sizes, factors = [], [], [], []
    for _ in range(int(count)):
        if zoom == "whole":
            z = fit_zoom((w, s, e, n), VIEW_W, VIEW_H)
            centre = ((w + e) / 2, (s + n) / 2)
        else:
            z = int(zoom)
            centre = (rng.uniform(w + 0.1 * (e - w), e - 0.1 * (e - w)),
                      rng.uniform(s + 0.1 * (n - s), n - 0.1 * (n - s)))
        bounds = view_bounds(centre, z, VIEW_W, VIEW_H)
        t0 = time.perf_counter()
        view = render_view(path, bounds, VIEW_W, VIEW_H, "true_colour")
        image = view.to_webp()  # what the page sends
        times.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        view.to_png()
        png_times.append(time.perf_counter() - t1)
        sizes.append(len(image))
        factors.append(view.overview_factor)
    return {"times": times, "png_s": float(np.median(png_times)), "first_stretch_s": first,
            "image_bytes": float(np.median(sizes)), "factor": float(np.median(factors)),
            "peak_mib": _peak_mib(), "idle_mib": idle}


def _child_naive(path: str) -> dict[str, Any]:
    import io

    import rasterio
    from PIL import Image

    idle = _own_mib("VmRSS")
    start = time.perf_counter()
    with rasterio.open(path, driver="GTiff") as src:
        descriptions = list(src.descriptions)
        idx = [descriptions.index(b) + 1 for b in ("red", "green", "blue")]
        rgb = src.read(idx)  # every pixel of three bands, full resolution
        nodata = src.nodata
    valid = np.all(rgb != nodata, axis=0) if nodata is not None else np.ones(rgb.shape[1:], bool)
    lo, hi = np.percentile(rgb[:, valid], [2, 98])
    img = np.empty((*rgb.shape[1:], 4), np.uint8)
    for i in range(3):
        img[..., i] = np.clip((rgb[i] - lo) * (255.0 / (hi - lo)), 0, 255)
    img[..., 3] = np.where(valid, 255, 0)
    del rgb
    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, format="PNG")
    return {"seconds": time.perf_counter() - start, "png_bytes": float(buf.tell()),
            "peak_mib": _peak_mib(), "idle_mib": idle}


def child_main(argv: list[str]) -> None:
    """Run one configuration in this (fresh) process and print its figures as JSON."""
    kind, *args = argv
    out = _child_views(*args) if kind == "views" else _child_naive(*args)
    print(json.dumps(out))


def measure(*args: str) -> dict[str, Any]:
    """Run ``child_main(args)`` in a fresh interpreter; return its JSON."""
    code = "import sys; from bench.bench_imagery import child_main; child_main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=3600)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> list[Row]:
    """Prepare the tile, measure views and the naive overlay, return the rows."""
    path, ovr_s = tile_with_overviews(quick)
    p = str(path)
    n = "3" if quick else "8"
    zoomed, mid = measure("views", p, "14", n), measure("views", p, "12", n)
    whole, naive = measure("views", p, "whole", "2"), measure("naive", p)
    naive_s = naive["seconds"]

    def med(r: dict[str, Any]) -> float:
        return float(np.median(r["times"]))

    rows = [
        Row(f"zoomed view {VIEW_W}x{VIEW_H} (zoom 14, full resolution), median of {n}",
            med(zoomed), "s", naive_s, "naive: whole bands + one PNG", None, "",
            f"<= {TARGET_S} s; worst {max(zoomed['times']):.3f} s; WebP "
            f"{zoomed['image_bytes'] / 1e3:.0f} kB (a PNG instead: +{zoomed['png_s']:.3f} s)"),
        Row(f"mid-zoom view (zoom 12, overview 1/{mid['factor']:.0f}), median of {n}",
            med(mid), "s", naive_s, "naive", None, "",
            f"<= {TARGET_S} s; worst {max(mid['times']):.3f} s"),
        Row(f"whole-tile view (overview 1/{whole['factor']:.0f})", med(whole), "s", naive_s,
            "naive", None, "", f"<= {TARGET_S} s"),
        Row("first view of a scene: its stretch from an overview (once, cached)",
            zoomed["first_stretch_s"], "s", None, "", None, "", ""),
    ]
    naive_note = (f"naive: its own child, {naive['idle_mib']:,.0f} MiB after imports; "
                  f"PNG {naive['png_bytes'] / 1e6:.0f} MB")
    for label, r in (("zoomed views", zoomed), ("mid-zoom views", mid),
                     ("whole-tile view", whole)):
        rows.append(Row(f"peak RSS, {label} (own child process)", r["peak_mib"], "MiB",
                        naive["peak_mib"], naive_note, None, "",
                        f"bounded by the screen: {r['peak_mib'] - r['idle_mib']:+,.0f} MiB "
                        f"over the {r['idle_mib']:,.0f} MiB after imports"))
    if not math.isnan(ovr_s):
        rows.append(Row("build internal overviews at ingest (once per scene)", ovr_s, "s",
                        None, "", None, "", "reused from artifacts/bench on later runs"))
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    from bench.common import table

    print(table(run(quick=quick)))
