/*
 * Upload progress for the forms marked `data-upload-progress`, which post with htmx (hx-post). htmx reports
 * the upload with its own `htmx:xhr:progress` events; this shows them in the form's <progress>. The form
 * works without JavaScript as a plain POST.
 *
 * A refused upload (4xx) comes back as the page with its errors: it is swapped in like a success would be
 * (htmx leaves error responses out by default), and htmx focuses its [autofocus] error summary.
 */
(function () {
  "use strict";

  function uploadForm(element) {
    return element && element.closest ? element.closest("form[data-upload-progress]") : null;
  }

  function say(form, message, percent) {
    var text = form.querySelector("[data-upload-progress-text]");
    var bar = form.querySelector("progress[data-upload-progress-bar]");
    if (text) text.textContent = message;
    if (bar && typeof percent === "number" && percent >= bar.value) {
      bar.value = percent;
      bar.textContent = percent + "%";
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event.target);
    if (form) say(form, "Starting the upload…", 0);
  });

  // Fired for the request's upload and, afterwards, for the answer's download: the bar never goes back.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm(event.target);
    if (!form || !event.detail.lengthComputable || !event.detail.total) return;
    var percent = Math.min(100, Math.round((event.detail.loaded / event.detail.total) * 100));
    say(form, percent < 100 ? "Uploading: " + percent + "%" : "Uploaded. Checking the files…", percent);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (uploadForm(event.detail.requestConfig && event.detail.requestConfig.elt) && status >= 400 && status < 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = uploadForm(event.target);
    if (form) say(form, "The upload was interrupted. Check the connection and try again; nothing was saved.");
  });
})();
