"""Paahtimo, a small coffee roastery shop that shows personalize at work."""
