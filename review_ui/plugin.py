"""The web pages in the core's registry: page groups mounted at the site root (app.domains.pages).

Each group is its own module and blueprint (web.page_blueprint); `web.bp` is the shell that
carries base.html, the static files and the session-cookie settings, so it always comes first.
"""

from app.domains import Domain, register


def _pages():
    # Imported when the app is built, not when the plugin is: the CLI need not load Jinja views.
    from review_ui import appeals, auth, cameo, complaints, creator, portal, review, web
    return [web.bp, auth.bp, creator.bp, appeals.bp, review.bp, portal.bp, cameo.bp, complaints.bp]


DOMAIN = register(Domain(name="review_ui", pages=_pages))
