// The editor page's behaviour: live preview, draft autosave, the thank-you dialog.
// Served as a file (never inline) so the Content-Security-Policy can stay `script-src 'self'`.
// The page works without it: the form posts, the server validates, the dialog is open in the HTML.
(function () {
  "use strict";

  var DRAFT_DELAY_MS = 1500;

  function fit(text, width) {
    text.removeAttribute("textLength");
    text.removeAttribute("lengthAdjust");
    if (text.textContent && text.getComputedTextLength && text.getComputedTextLength() > width) {
      text.setAttribute("textLength", String(width));
      text.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
  }

  function wirePreview(section) {
    var text = section.querySelector("[data-preview-text]");
    var source = section.querySelector("[data-preview-source]");
    if (text && source) {
      var update = function () { text.textContent = source.value; fit(text, 140); };
      source.addEventListener("input", update);
      fit(text, 140);
    }
    var clipart = section.querySelector("[data-preview-clipart]");
    section.querySelectorAll("[data-preview-choice]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (radio.checked && clipart) { clipart.textContent = radio.getAttribute("data-symbol") || ""; }
      });
    });
    var image = section.querySelector("[data-preview-image]");
    var file = section.querySelector("[data-preview-file]");
    var shown = null;
    if (image && file) {
      file.addEventListener("change", function () {
        if (shown) { URL.revokeObjectURL(shown); shown = null; }
        var chosen = file.files && file.files[0];
        if (chosen && /^image\/(jpeg|png|webp)$/.test(chosen.type)) {
          shown = URL.createObjectURL(chosen);
          image.setAttribute("href", shown);
          image.classList.add("is-shown");
        } else {
          image.removeAttribute("href");
          image.classList.remove("is-shown");
        }
      });
    }
  }

  function draftBody(form) {
    var body = new URLSearchParams();
    form.querySelectorAll("input[type=text], input[type=radio]:checked").forEach(function (input) {
      body.append(input.name, input.value);
    });
    return body;
  }

  function wireDrafts(form) {
    var status = form.querySelector("[data-draft-status]");
    var csrf = form.querySelector("input[name=csrf]").value;
    var url = window.location.pathname.replace(/\/$/, "") + "/draft";
    var timer = null;
    var save = function () {
      timer = null;
      fetch(url, {
        method: "POST", body: draftBody(form), credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf}
      }).then(function (response) {
        if (status) { status.textContent = response.ok ? "Draft saved." : ""; }
      }).catch(function () { /* offline: the next change tries again */ });
    };
    var later = function () {
      if (status) { status.textContent = ""; }
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(save, DRAFT_DELAY_MS);
    };
    form.addEventListener("input", function (event) {
      if (event.target.type !== "file") { later(); }
    });
    form.addEventListener("change", function (event) {
      if (event.target.type === "radio") { later(); }
    });
    var sent = false;
    form.addEventListener("submit", function (event) {
      if (timer) { clearTimeout(timer); timer = null; }
      if (sent) { event.preventDefault(); return; }  // a double click sends one completion
      sent = true;
    });
  }

  function wireDialog() {
    var dialog = document.querySelector("[data-thanks]");
    if (dialog && dialog.open && dialog.showModal) {
      dialog.close();
      dialog.showModal();  // modal: focus stays in the popup until it is closed
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-section]").forEach(wirePreview);
    var form = document.querySelector("[data-editor]");
    if (form) { wireDrafts(form); }
    wireDialog();
    var errors = document.getElementById("form-errors");
    var firstInvalid = document.querySelector("[aria-invalid=true], .has-error input");
    if (errors && firstInvalid) { firstInvalid.focus(); }
  });
})();
