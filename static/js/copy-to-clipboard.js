// A button marked data-copy-target="<id>" copies that field's value (an invitation link shown once) to the
// clipboard and says so in its own label. A static file: the Content-Security-Policy allows no inline
// script or handler. Without the Clipboard API (an insecure origin) it selects the text for Ctrl+C.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-target]") : null;
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) {
      return;
    }
    var status = document.getElementById(button.getAttribute("aria-describedby") || "");
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { say("Copied to the clipboard."); },
        function () { say("Selected: press Ctrl+C (or Cmd+C) to copy."); }
      );
    } else {
      say("Selected: press Ctrl+C (or Cmd+C) to copy.");
    }
  });
})();
