// htmx requests carry the page's CSRF token in a header (forms carry it as a hidden input):
// review_ui/web.py refuses any POST without one.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});
