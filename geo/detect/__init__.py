"""Runway candidate detection: imagery windows in, scored oriented rectangles out."""
