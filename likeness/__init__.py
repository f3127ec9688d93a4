"""Likeness: cameos and consent, permissions, public figures (faces and 1:N search come next)."""
