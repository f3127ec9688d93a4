"""Rendering: procedural (now) and diffusers (later), encoding, watermark, provenance."""
