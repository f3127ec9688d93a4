"""Server-rendered pages (Flask + Jinja, no build step): the creator's pages now; the reviewer
dashboard, rightsholder portal, cameo owner page and appeals join as page groups.

Layout: `plugin.py` registers the groups; `web.py` holds what they share (login session, roles,
CSRF, headers); one module per group (`auth.py`, `creator.py`, ...); templates under
`templates/<group>/`, page scripts under `static/js/` (the CSP allows no inline script), vendored
libraries under `static/vendor/` (see its README). It renders what app services return and holds
no business rules."""
