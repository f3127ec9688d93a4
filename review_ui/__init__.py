"""Server-rendered pages (reviewer dashboard, rightsholder portal, cameo owner page, appeals).

Empty for now: the foundation exposes review through the JSON API (/api/v1/review/...)."""
