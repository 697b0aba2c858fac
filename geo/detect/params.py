"""Tunables of the runway detector, grouped in one frozen, self-validating dataclass."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from geo.errors import ConfigError

_MAY_BE_ZERO = frozenset({"overlap_px", "ring_inner_px", "ndwi_water", "pixel_threshold",
                          "line_threshold", "min_contrast", "min_frac_on", "dark_strips",
                          "rgb_texture_weight", "screen"})


@dataclass(frozen=True)
class DetectionParams:
    """Every threshold of the candidate generator; hashable, so usable as a cache key.

    Distances are metres on the ground and converted to pixels with the raster's pixel size,
    so the same parameters serve Sentinel-2 (10 m) and Landsat (30 m). Evidence and ridge
    thresholds are in local standard deviations (z units): a pixel's value minus the mean of
    its ``background_m`` neighbourhood, divided by that neighbourhood's standard deviation,
    averaged over the visible and SWIR bands.

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
    background_m: float = 310.0  # side of the box giving the local mean and spread
    min_background_px: int = 11  # at coarse pixels the box keeps at least this many
    line_length_m: float = 450.0  # length of the oriented ridge filter
    min_line_px: int = 9
    n_orientations: int = 16
    #: Offsets of the parallel flank lines compared with the centre line: the strip must be
    #: brighter than both flanks (roads beside fields, field edges are bright on one side).
    flank_m: tuple[float, ...] = (30.0,)
    pixel_threshold: float = 0.5  # ridge response of the pixels a strip is traced through
    line_threshold: float = 0.9  # ridge response one pixel of the strip must reach
    #: RGB only: evidence minus this x local speckle (z units; ``evidence._log_texture``).
    #: Off, for forest strips: on the Peru chips' blue, green and red bands (grouped CV, seed
    #: 0, 2026-12-03, each setting with its own retrained scorer) 1.0 gave active recall 0.43
    #: against 0.62, inactive 0.13 against 0.37, at 1.12 false candidates per 100 km2 against
    #: 0.81. It helps among towns and fields: with 1.0 the paved Itaipu runway is a candidate
    #: (not without), and on 30 m Landsat blue/green/red around it (324 km2) and at Pensacola
    #: (340 km2) no candidate passed the operating point, against 7 in each without.
    rgb_texture_weight: float = 0.0
    dark_strips: float = 0.0  # 1.0: also trace strips darker than their surroundings (RGB)
    #: Work bound: the strongest ridges kept per km2 of window before they are measured
    #: (real scenes hold well under one candidate per km2; a town at 30 m holds dozens).
    max_ridges_per_km2: float = 2.0
    #: Coarse screen (:mod:`geo.detect.screen`): the ridge filter on a ``screen_res_m`` grid
    #: decides which ``screen_block_px`` blocks the full filter starts from; a block is kept
    #: when the coarse response (z units) reaches ``screen_threshold`` within one coarse
    #: pixel. On the 150 Peru chips no candidate of the whole-window filter is lost up to
    #: 0.55 (the first at 0.65); 0.45 keeps a margin. False: every block, as before.
    screen: bool = True
    screen_res_m: float = 30.0
    screen_threshold: float = 0.45
    screen_block_px: int = 32
    min_length_m: float = 400.0
    max_length_m: float = 2500.0
    min_width_m: float = 6.0
    max_width_m: float = 45.0
    min_elongation: float = 10.0
    min_fill: float = 0.45
    max_bend_m: float = 60.0  # sideways wander of the axis; roads and rivers bend
    min_contrast: float = 0.6  # rules only: centre minus brighter flank, z units
    min_frac_on: float = 0.6  # rules only: share of the axis clearly on the strip
    ndwi_water: float = 0.05  # NDWI (green vs NIR) above which a pixel is water
    ring_inner_px: int = 2
    ring_outer_px: int = 6
    aerodrome_km: float = 5.0  # closer than this to a registered aerodrome: low priority

    def __post_init__(self) -> None:
        """Check every value, collecting all problems into one error."""
        problems = [f"{f.name} must be > 0, got {getattr(self, f.name)}" for f in fields(self)
                    if f.name not in _MAY_BE_ZERO | {"flank_m"}
                    and not getattr(self, f.name) > 0]
        if not self.flank_m or any(not v > 0 for v in self.flank_m):
            problems.append(f"flank_m must be one or more distances > 0, got {self.flank_m}")
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
        return replace(self, min_length_m=200.0, min_elongation=3.0, min_fill=0.2,
                       max_width_m=150.0, max_bend_m=250.0, min_contrast=0.0, min_frac_on=0.0,
                       min_width_m=min(self.min_width_m, 3.0), max_length_m=4000.0)

    def px(self, metres: float, res_m: float, *, minimum: int = 1) -> int:
        """Return ``metres`` in whole pixels of ``res_m`` metres, at least ``minimum``.

        Examples
        --------
        >>> DetectionParams().px(450.0, 30.0, minimum=9)
        15
        """
        return max(minimum, round(metres / res_m))
