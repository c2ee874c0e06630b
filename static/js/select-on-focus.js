// A read-only field marked data-select-on-focus (the API key shown once) selects its whole value when
// clicked or focused, so it can be copied in one go. A static file: the Content-Security-Policy allows
// no inline handler (onclick="...").
(function () {
  "use strict";
  function selectAll(event) {
    var field = event.target;
    if (field && field.matches && field.matches("[data-select-on-focus]")) {
      field.select();
    }
  }
  document.addEventListener("click", selectAll);
  document.addEventListener("focusin", selectAll);
})();
