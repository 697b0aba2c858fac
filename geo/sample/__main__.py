"""Command line: ``python -m geo.sample --seed 7 --events 20000 --out data``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from geo.errors import AtalayaError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m geo.sample",
        description="Write the deterministic sample world (events, routes, runway candidates, "
                    "registered aerodromes, two dated scenes) into a folder.")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--events", type=int, default=20_000, help="number of events (default 20000)")
    p.add_argument("--candidates", type=int, default=300,
                   help="number of runway candidates (default 300)")
    p.add_argument("--scene-size", type=int, default=2000,
                   help="scene width and height in 10 m pixels (default 2000)")
    p.add_argument("--out", default="data", help="output folder (default data)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator; returns the process exit code."""
    args = _parser().parse_args(argv)
    for name in ("events", "candidates"):
        if getattr(args, name) < 0:
            _parser().error(f"--{name} must be >= 0, got {getattr(args, name)}")
    if args.scene_size < 300:
        _parser().error(f"--scene-size must be at least 300 pixels, got {args.scene_size}")
    from geo.sample.scenes import SceneSpec  # heavy imports after argument checks
    from geo.sample.world import generate_world

    def say(msg: str) -> None:
        print(f"[geo.sample] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        manifest = generate_world(args.out, seed=args.seed, n_events=args.events,
                                  n_candidates=args.candidates,
                                  scene_spec=SceneSpec(size_px=args.scene_size), progress=say)
    except (AtalayaError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    say(f"wrote {len(manifest['files']) + 1} files to {args.out} in "
        f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
