/*
 * Upload progress for forms marked `data-upload-progress`.
 *
 * Progressive enhancement: without JavaScript, or when no file is chosen, the form submits as usual.
 * With files chosen, the form is sent with XMLHttpRequest so the browser can report how much has been
 * uploaded, shown in the form's `[data-upload-progress-bar]` (a <progress> and a live text line).
 * The request carries `X-Upload-Progress: 1`; the server then answers a success with
 * {"redirect": url} as JSON instead of a 302 (XMLHttpRequest would follow a redirect itself and fetch
 * the next page twice), and a refusal with the page re-rendered (4xx), whose <main> replaces this one.
 */
(function () {
  "use strict";

  function hasFiles(form) {
    return Array.prototype.some.call(form.querySelectorAll('input[type="file"]'), function (input) {
      return input.files && input.files.length > 0;
    });
  }

  function formatBytes(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1) + " MB";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " kB";
    return bytes + " bytes";
  }

  function parts(form) {
    var bar = form.querySelector("[data-upload-progress-bar]");
    return {
      bar: bar,
      progress: bar ? bar.querySelector("progress") : null,
      text: bar ? bar.querySelector("[data-upload-progress-text]") : null,
      buttons: form.querySelectorAll('button[type="submit"], input[type="submit"]'),
    };
  }

  function setBusy(form, busy) {
    var p = parts(form);
    form.setAttribute("aria-busy", busy ? "true" : "false");
    Array.prototype.forEach.call(p.buttons, function (button) {
      button.disabled = busy;
    });
    if (p.bar) p.bar.hidden = !busy && !p.bar.dataset.keep;
  }

  function say(form, message, percent) {
    var p = parts(form);
    if (p.text) p.text.textContent = message;
    if (p.progress && typeof percent === "number") {
      p.progress.value = percent;
      p.progress.textContent = percent + "%";
    }
  }

  function fail(form, message) {
    var p = parts(form);
    setBusy(form, false);
    if (p.bar) {
      p.bar.hidden = false;
      p.bar.dataset.keep = "1";
    }
    say(form, message);
    if (p.text) p.text.setAttribute("role", "alert");
  }

  function replaceMain(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector("main");
    var current = document.querySelector("main");
    if (!fresh || !current) return false;
    var imported = document.importNode(fresh, true);
    current.replaceWith(imported);
    if (doc.title) document.title = doc.title;
    bind(imported);
    if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(imported);
    var summary = imported.querySelector("#error-summary") || imported.querySelector('[role="alert"]');
    if (summary) {
      if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
      summary.focus();
    } else {
      imported.focus();
    }
    return true;
  }

  function send(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Upload-Progress", "1");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.min(100, Math.round((event.loaded / event.total) * 100));
      say(form, "Uploading: " + formatBytes(event.loaded) + " of " + formatBytes(event.total) + " (" + percent + "%)", percent);
    });
    xhr.upload.addEventListener("load", function () {
      say(form, "Uploaded. Checking the files…", 100);
    });
    xhr.addEventListener("load", function () {
      var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
      if (xhr.status >= 200 && xhr.status < 300 && type.indexOf("application/json") === 0) {
        var body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (error) {
          body = null;
        }
        if (body && body.redirect) {
          say(form, "Done. Opening the result…", 100);
          window.location.assign(body.redirect);
          return;
        }
      }
      if (type.indexOf("text/html") === 0) {
        // Redirected somewhere else (for example to sign in again): go there.
        if (xhr.status < 300 && xhr.responseURL && xhr.responseURL.split("#")[0] !== form.action.split("#")[0]) {
          window.location.assign(xhr.responseURL);
          return;
        }
        if (replaceMain(xhr.responseText)) return;
      }
      fail(form, "The server refused the upload (HTTP " + xhr.status + "). Nothing was saved.");
    });
    xhr.addEventListener("error", function () {
      fail(form, "The upload was interrupted. Check the connection and try again; nothing was saved.");
    });
    xhr.addEventListener("abort", function () {
      fail(form, "The upload was stopped. Nothing was saved.");
    });
    setBusy(form, true);
    say(form, "Starting the upload…", 0);
    xhr.send(data);
  }

  function bind(root) {
    var forms = root.matches && root.matches("form[data-upload-progress]") ? [root] : root.querySelectorAll("form[data-upload-progress]");
    Array.prototype.forEach.call(forms, function (form) {
      if (form.dataset.uploadProgressBound) return;
      form.dataset.uploadProgressBound = "1";
      form.addEventListener("submit", function (event) {
        if (!window.FormData || !window.XMLHttpRequest || !hasFiles(form)) return;
        event.preventDefault();
        send(form, event.submitter);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      bind(document);
    });
  } else {
    bind(document);
  }
})();
