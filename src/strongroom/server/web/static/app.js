/* Strongroom browser UI: progressive enhancement only. Every form works
 * without this file; it adds reveal/copy without a page load, the TOTP
 * countdown, the Generate button and the master-password strength meter. */
(function () {
  "use strict";

  function csrfOf(form) {
    var input = form.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function say(message) {
    var status = document.getElementById("copy-status");
    if (status) { status.textContent = message; }
  }

  function postJson(url, form, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "X-CSRF-Token": csrfOf(form),
        "Content-Type": "application/x-www-form-urlencoded"
      },
      body: body || ""
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  function setSecret(id, value) {
    var el = document.getElementById(id);
    if (el && value !== undefined && value !== null) {
      el.textContent = value;
      el.classList.remove("masked");
      el.removeAttribute("aria-label");
    }
  }

  // Reveal: one audited request, then the values replace the dots in place.
  document.querySelectorAll("form.js-reveal").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      postJson(form.action, form).then(function (data) {
        setSecret("value-password", data.password);
        setSecret("value-notes", data.notes);
        setSecret("value-otp_secret", data.otp_secret);
        (data.fields || []).forEach(function (value, i) { setSecret("value-field-" + i, value); });
        var button = form.querySelector("button");
        if (button) { button.disabled = true; button.textContent = "Secrets shown"; }
      }).catch(function () { form.submit(); });
    });
  });

  function toClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error("no clipboard"));
  }

  // Without clipboard access, show the value selected for Ctrl+C, as the
  // page without script does (the copy is already audited: no second post).
  function showCopied(value) {
    var box = document.getElementById("copied-fallback");
    if (!box) {
      box = document.createElement("div");
      box.id = "copied-fallback";
      box.className = "copied-fallback";
      box.setAttribute("role", "status");
      var label = document.createElement("label");
      label.htmlFor = "copied-value";
      label.textContent = "Copied value: select it and press Ctrl+C (\u2318C)";
      var input = document.createElement("input");
      input.id = "copied-value";
      input.type = "text";
      input.readOnly = true;
      box.appendChild(label);
      box.appendChild(input);
      var toolbar = document.querySelector(".toolbar");
      toolbar.parentNode.insertBefore(box, toolbar);
    }
    var field = document.getElementById("copied-value");
    field.value = value;
    field.focus();
    field.select();
  }

  // Copy: the server audits record.copied and hands the value to the clipboard.
  document.querySelectorAll("form.js-copy").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var field = form.getAttribute("data-field") || "password";
      postJson(form.action, form, "field=" + encodeURIComponent(field))
        .then(function (data) {
          return toClipboard(data.value).then(
            function () { say("Copied to the clipboard."); },
            function () { showCopied(data.value); }
          );
        })
        .catch(function () { form.submit(); });
    });
  });

  document.querySelectorAll(".js-copy-plain").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      var text = target.value !== undefined ? target.value : target.textContent;
      toClipboard(text).then(function () { say("Copied."); button.textContent = "Copied"; });
    });
  });

  // TOTP countdown: tick every second, fetch a fresh code when it runs out.
  var otp = document.getElementById("otp");
  if (otp) {
    var period = parseInt(otp.getAttribute("data-period"), 10) || 30;
    var remaining = parseInt(otp.getAttribute("data-remaining"), 10) || period;
    var codeEl = document.getElementById("otp-code");
    var progress = document.getElementById("otp-progress");
    var label = document.getElementById("otp-remaining");
    // The refresh says it is a background one, so an open tab does not keep
    // the session from idling out; once the session has ended, the page
    // goes to the sign-in page (saying why) instead of showing a stale code.
    var refresh = function () {
      fetch("/records/" + otp.getAttribute("data-record") + "/otp", {
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Strongroom-Background": "1" }
      }).then(function (r) {
        if (r.status === 401) {
          window.location.assign("/login?expired=1&next=" +
            encodeURIComponent(window.location.pathname));
        }
        return r.json();
      }).then(function (data) {
        if (data.code) {
          var half = Math.floor(data.code.length / 2);
          codeEl.textContent = data.code.slice(0, half) + " " + data.code.slice(half);
          remaining = data.remaining;
        }
      });
    };
    window.setInterval(function () {
      remaining -= 1;
      if (remaining <= 0) { remaining = period; refresh(); }
      progress.value = remaining;
      label.textContent = remaining + " s left";
    }, 1000);
  }

  document.querySelectorAll(".js-toggle-password").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-target"));
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
    });
  });

  document.querySelectorAll(".js-generate").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      fetch("/generator.json?length=20&classes=lower&classes=upper&classes=digits&classes=symbols", {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.json(); }).then(function (data) {
        var input = document.getElementById(button.getAttribute("data-target"));
        input.value = data.password;
        input.type = "text";
      });
    });
  });

  // Strength meter: a rough estimate for guidance; the server's check decides.
  function estimate(password) {
    var pool = 0;
    if (/[a-z]/.test(password)) { pool += 26; }
    if (/[A-Z]/.test(password)) { pool += 26; }
    if (/[0-9]/.test(password)) { pool += 10; }
    if (/[^a-zA-Z0-9]/.test(password)) { pool += 33; }
    var unique = new Set(password.split("")).size;
    var bits = pool ? Math.log2(pool) * Math.min(password.length, unique * 2) : 0;
    return bits;
  }
  document.querySelectorAll("input[data-strength-meter]").forEach(function (input) {
    var meter = document.getElementById(input.getAttribute("data-strength-meter"));
    var text = document.getElementById(input.getAttribute("data-strength-meter") + "-text");
    if (!meter) { return; }
    meter.hidden = false;
    if (text) { text.hidden = false; }
    input.addEventListener("input", function () {
      var bits = estimate(input.value);
      meter.value = Math.min(bits, 100);
      if (text) {
        text.textContent = input.value.length === 0 ? "" :
          bits < 40 ? "Weak" : bits < 60 ? "Fair" : bits < 80 ? "Good" : "Strong";
      }
    });
  });
})();
