/* The 3D viewer's fallback (templates/assessments/includes/result_viewer.html). model-viewer parses a model even
   where nothing can draw it, then dismisses its poster and leaves an empty box. A browser that cannot create a
   WebGL context gets the still image in the viewer's place instead, with a line saying why, and the model is never
   fetched. Runs before model-viewer's module: deferred and module scripts run in document order. */
(() => {
  const viewers = document.querySelectorAll("model-viewer");
  if (!viewers.length) { return; }
  // Only asked whether a context can be made: the probe canvas is dropped, never drawn on. (Releasing its
  // context with WEBGL_lose_context stalled model-viewer's own renderer under software WebGL.)
  const canvas = document.createElement("canvas");
  if (canvas.getContext("webgl2") || canvas.getContext("webgl")) { return; }
  for (const viewer of viewers) {
    const note = document.createElement("p");
    note.className = "muted model-fallback-note";
    note.textContent = "This browser cannot show the 3D model (WebGL is unavailable), so the still image is shown.";
    const still = viewer.querySelector("img[slot=poster]");
    if (still) {
      still.removeAttribute("slot");
      viewer.replaceWith(still, note);
    } else {
      viewer.replaceWith(note);
    }
  }
})();
