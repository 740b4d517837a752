// Progressive enhancement of the forms marked data-enhance: the form posts
// without a reload, and the server's per-field errors (the 400 body) appear
// next to their fields, tied to them with aria-invalid and
// aria-describedby, and focus moves to the first. Without this script the
// same forms post normally and the server draws the same errors.
(function () {
  "use strict";

  function fieldBox(form, name) {
    return form.querySelector('[data-field="' + name + '"]');
  }

  function controls(box) {
    if (!box) return [];
    return Array.prototype.slice.call(box.querySelectorAll("input, select, textarea"));
  }

  function clear(form) {
    form.querySelectorAll("[data-field]").forEach(function (box) {
      var err = box.querySelector(".error");
      if (err) { err.textContent = ""; err.hidden = true; }
      if (box.tagName === "FIELDSET") box.removeAttribute("aria-describedby");
      controls(box).forEach(function (c) {
        c.removeAttribute("aria-invalid");
        var hint = box.querySelector(".hint");
        if (box.tagName !== "FIELDSET") {
          if (hint) c.setAttribute("aria-describedby", hint.id); else c.removeAttribute("aria-describedby");
        }
      });
    });
  }

  function show(form, fields) {
    var first = null;
    Object.keys(fields).forEach(function (name) {
      var box = fieldBox(form, name);
      if (!box) return;
      var err = box.querySelector(".error");
      err.textContent = fields[name];
      err.hidden = false;
      var hint = box.querySelector(".hint");
      if (box.tagName === "FIELDSET") box.setAttribute("aria-describedby", err.id);
      controls(box).forEach(function (c) {
        c.setAttribute("aria-invalid", "true");
        if (box.tagName !== "FIELDSET") c.setAttribute("aria-describedby", err.id + (hint ? " " + hint.id : ""));
      });
      if (!first) first = controls(box)[0];
    });
    // Focus the first field in the form's order, not the body's.
    var ordered = controls(form).filter(function (c) { return c.getAttribute("aria-invalid") === "true"; });
    (ordered[0] || first || form).focus();
  }

  function status(form, text, failed) {
    var s = form.querySelector(".status");
    s.textContent = text;
    s.classList.toggle("failed", !!failed);
  }

  function enhance(form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      clear(form);
      status(form, "");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)).toString(),
        credentials: "omit"
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          button.disabled = false;
          if (resp.ok) {
            var done = document.createElement("p");
            done.className = "status";
            done.setAttribute("role", "status");
            done.setAttribute("tabindex", "-1");
            done.textContent = form.getAttribute("data-success");
            form.replaceWith(done);
            done.focus();
            return;
          }
          var e = body && body.error;
          if (e && e.fields && Object.keys(e.fields).length) {
            status(form, form.getAttribute("data-summary"), true);
            show(form, e.fields);
          } else {
            status(form, (e && e.message) || form.getAttribute("data-failed"), true);
            form.querySelector(".status").focus();
          }
        });
      }).catch(function () {
        button.disabled = false;
        status(form, form.getAttribute("data-failed"), true);
      });
    });
  }

  document.querySelectorAll("form[data-enhance]").forEach(function (form) {
    enhance(form);
    var s = form.querySelector(".status");
    if (s) s.setAttribute("tabindex", "-1");
  });
  // After a plain post came back with errors, focus the first of them.
  var posted = document.querySelector("form[data-focus]");
  if (posted) {
    var bad = posted.querySelector("[aria-invalid=true]");
    (bad || posted).focus();
  }
})();

// The printable copy's button: shown (and working) only with this script.
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
})();
