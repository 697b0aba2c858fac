"""Tunables of the runway detector, grouped in one frozen, self-validating dataclass."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from geo.errors import ConfigError


@dataclass(frozen=True)
class DetectionParams:
    """Every threshold of the candidate generator; hashable, so usable as a cache key.

    Distances are metres on the ground and converted to pixels with the raster's pixel size;
    evidence thresholds are in "typical strip" units (1.0 is the contrast of a median real
    strip: red 1.6x, SWIR 1.25x, NDVI 0.15 below its surroundings).

    Examples
    --------
    >>> DetectionParams().min_length_m
    400.0
    >>> DetectionParams(min_width_m=50.0)
    Traceback (most recent call last):
    ...
    geo.errors.ConfigError: min_width_m (50.0) must be below max_width_m (45.0)
    """

    window_px: int = 1024
    #: Windows overlap by this much so a strip up to ``overlap_px`` pixels long lies whole in
    #: the window that owns its centre (256 px = 2.56 km at 10 m).
    overlap_px: int = 256
    background_m: float = 310.0  # side of the box whose mean is the "surroundings"
    line_length_m: float = 150.0  # length of the oriented line filter
    n_orientations: int = 16
    pixel_threshold: float = 0.35  # evidence a pixel needs to belong to a strip
    line_threshold: float = 0.6  # mean evidence along the best line through the pixel
    min_length_m: float = 400.0
    max_length_m: float = 2000.0
    min_width_m: float = 6.0
    max_width_m: float = 45.0
    min_elongation: float = 10.0
    min_fill: float = 0.45
    max_bend_m: float = 60.0  # sideways wander of the axis; roads and rivers bend
    ndwi_water: float = 0.05  # NDWI (green vs NIR) above which a pixel is water
    ring_inner_px: int = 2
    ring_outer_px: int = 6
    red_scale: float = 0.45  # log red ratio of a typical strip
    swir_scale: float = 0.22
    ndvi_scale: float = 0.15
    bright_scale: float = 0.3  # RGB-only: log brightness ratio of a typical strip
    redness_scale: float = 0.1
    aerodrome_km: float = 5.0  # closer than this to a registered aerodrome: low priority

    def __post_init__(self) -> None:
        """Check every value, collecting all problems into one error."""
        problems = [f"{f.name} must be > 0, got {getattr(self, f.name)}" for f in fields(self)
                    if f.name not in {"overlap_px", "ring_inner_px", "ndwi_water",
                                      "pixel_threshold", "line_threshold"}
                    and not getattr(self, f.name) > 0]
        pairs = (("min_length_m", "max_length_m"), ("min_width_m", "max_width_m"),
                 ("ring_inner_px", "ring_outer_px"), ("pixel_threshold", "line_threshold"))
        problems += [f"{a} ({getattr(self, a)}) must be below {b} ({getattr(self, b)})"
                     for a, b in pairs if not getattr(self, a) < getattr(self, b)]
        if not 0 <= self.overlap_px < self.window_px // 2:
            problems.append(f"overlap_px must be in [0, window_px / 2), got {self.overlap_px}")
        if not 0 < self.min_fill <= 1:
            problems.append(f"min_fill must be in (0, 1], got {self.min_fill}")
        if problems:
            raise ConfigError("; ".join(problems))

    def permissive(self) -> DetectionParams:
        """Return a looser operating point that lets thin or faint strips through for the scorer.

        The learned scorer, not the rules, then decides; the rule-only baseline uses ``self``.
        """
        return replace(self, pixel_threshold=0.2, line_threshold=0.35, min_length_m=250.0,
                       min_elongation=5.0, min_fill=0.3, max_width_m=60.0, max_bend_m=120.0,
                       min_width_m=min(self.min_width_m, 3.0))
