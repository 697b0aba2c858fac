"""Did a scene see the ground of a strip? Its footprint, nodata and clouds decide.

Tracking needs this: a strip that is not detected on a date is *absent* only where that
date's scene saw its ground clearly. Under a cloud, in a nodata gap (a Landsat 7 stripe, a
tile's edge) or outside the scene, the strip was not observed, and calling it destroyed
would send a field team after a cloud.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from rasterio.features import geometry_mask
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from geo.imagery import SceneInfo, detection_factor, open_geotiff, raster_outline, read_window

#: Largest footprint looked at, in the detector's pixels per side (20 km at 10 m): a strip is
#: at most a few hundred; a larger shape (an imported polygon gone wrong) is not read.
MAX_LOOK_PX = 2048


def observed_share(info: SceneInfo, footprint: BaseGeometry, *,
                   src: rasterio.DatasetReader | None = None) -> float:
    """Share (0-1) of ``footprint``'s pixels the scene saw clearly.

    Parameters
    ----------
    info
        The scene (:func:`geo.imagery.read_scene_info`).
    footprint
        A polygon in EPSG:4326 (a candidate's oriented rectangle).
    src
        The scene already opened with :func:`geo.imagery.open_geotiff` (None: open it here).

    Returns
    -------
    float
        Pixels of the footprint (every pixel it touches, on the grid the detector reads:
        imagery finer than 7 m averaged as :func:`geo.imagery.detection_factor` says) that lie
        inside the raster and are valid (not nodata, not cloud, not an invalid SCL class), over
        all its pixels. 0.0 when the footprint misses the raster or is empty, and when it
        spans more than :data:`MAX_LOOK_PX` pixels on a side (nothing is read: not observed).

    Raises
    ------
    geo.errors.ImageryError
        The scene cannot be opened or the blocks under the footprint cannot be decoded.
    """
    if footprint.is_empty:
        return 0.0
    to_scene = pyproj.Transformer.from_crs(4326, info.crs_wkt, always_xy=True)
    shape = shapely.transform(footprint, to_scene.transform, interleaved=False)
    f = detection_factor(info.res_m)
    grid = info.transform @ Affine.scale(f)  # the detector's pixels
    x0, y0, x1, y1 = shape.bounds
    xs, ys = zip(*(~grid @ xy for xy in ((x0, y0), (x0, y1), (x1, y0), (x1, y1))), strict=True)
    c0, r0 = math.floor(min(xs)), math.floor(min(ys))
    c1, r1 = math.ceil(max(xs)), math.ceil(max(ys))
    if c1 - c0 > MAX_LOOK_PX or r1 - r0 > MAX_LOOK_PX:
        return 0.0
    touched = ~geometry_mask([shape], out_shape=(max(1, r1 - r0), max(1, c1 - c0)),
                             transform=grid @ Affine.translation(c0, r0), all_touched=True)
    total = int(touched.sum())
    if not total:
        return 0.0
    cols, rows = info.width // f, info.height // f  # whole averaged pixels
    k0, k1 = max(0, c0), min(cols, c1)
    j0, j1 = max(0, r0), min(rows, r1)
    if k1 <= k0 or j1 <= j0:
        return 0.0
    window = Window(k0 * f, j0 * f, (k1 - k0) * f, (j1 - j0) * f)
    if src is None:
        with open_geotiff(info.path) as opened:
            valid = read_window(info, window, src=opened, factor=f).valid
    else:
        valid = read_window(info, window, src=src, factor=f).valid
    inside = touched[j0 - r0:j1 - r0, k0 - c0:k1 - c0]
    return float(np.count_nonzero(valid & inside)) / total


def scene_footprint(info: SceneInfo) -> BaseGeometry:
    """Return the raster's outline in EPSG:4326 (its whole grid); empty if it cannot be placed.

    Examples
    --------
    >>> from pathlib import Path
    >>> from affine import Affine
    >>> from geo.imagery import BandRoles
    >>> info = SceneInfo(path=Path("s.tif"), width=100, height=100, count=3, dtype="uint16",
    ...                  crs_wkt="EPSG:32718", epsg=32718,
    ...                  transform=Affine(10, 0, 600000, 0, -10, 8960000), res_m=10.0,
    ...                  nodata=0, roles=BandRoles.from_mapping({"red": 1, "green": 2,
    ...                                                          "blue": 3}), acquired=None)
    >>> [round(v, 4) for v in scene_footprint(info).bounds]  # 1 km x 1 km in Ucayali, Peru
    [-74.0892, -9.4162, -74.0801, -9.4072]
    """
    outline = raster_outline(info.width, info.height, info.transform, info.crs_wkt)
    return shapely.Polygon() if outline is None else outline
