// slipway's live updates: the only script of the web interface, and
// every page works without it (reload to see changes).
// - [data-live]: an element whose HTML the server sends again (event
//   "html", rendered by the same template) whenever what it shows changes;
// - .dur: durations of what still runs tick every second;
// - #log[data-stream]: a running job's log follows its event stream.
(function () {
  "use strict";

  // Go's Duration.Round(time.Second).String(), which the server writes.
  function fmtDuration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    s = s % 60;
    if (h) return h + "h" + m + "m" + s + "s";
    if (m) return m + "m" + s + "s";
    return s + "s";
  }
  setInterval(function () {
    var spans = document.querySelectorAll(".dur[data-end='0']:not([data-start='0'])");
    for (var i = 0; i < spans.length; i++) {
      spans[i].textContent = fmtDuration(Date.now() - Number(spans[i].dataset.start));
    }
  }, 1000);

  var parts = document.querySelectorAll("[data-live]");
  Array.prototype.forEach.call(parts, function (part) {
    var source = new EventSource(part.dataset.live);
    source.addEventListener("html", function (e) {
      var active = document.activeElement;
      var focused = active && active.getAttribute("href");
      var focusedId = active && part.contains(active) && active.id;
      part.innerHTML = JSON.parse(e.data); // rendered and escaped by the server's template
      // Keep the keyboard's place across the update: a link by its
      // target, a button (such as a job's Play) by its id.
      var again = focused ? part.querySelector('[href="' + CSS.escape(focused) + '"]')
        : focusedId && document.getElementById(focusedId);
      if (again) again.focus();
    });
    source.addEventListener("end", function () {
      source.close(); // else EventSource would reconnect
      var cancel = document.getElementById("cancel-form");
      if (cancel) cancel.hidden = true;
    });
  });

  var copy = document.querySelectorAll("[data-copy]");
  Array.prototype.forEach.call(copy, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    });
  });

  var log = document.getElementById("log");
  if (!log || !log.dataset.stream) return;
  followLog(log);

  // followLog appends the lines the stream sends: a string of line HTML
  // (escaped and coloured by the server), or an object for a line that
  // opens ({s: name, h: html, c: collapsed}) or closes ({e: name, h})
  // a GitLab section. What arrived is added once per animation frame as
  // one piece of HTML. While following, only the last maxLines stay in the
  // page, and a frame that would build more than frameLines shows only the
  // log's tail (the rest is left out, as a reader could not follow it at
  // that speed anyway): a log growing at a megabyte a second keeps the
  // page responsive. Stop following to keep every line.
  function followLog(log) {
    var maxLines = 3000; // kept in the page while following
    var frameLines = 200; // built in one frame while following: a frame stays short
    var button = document.getElementById("follow");
    var following = true;
    var n = Number(log.dataset.lines) || 0;
    var shown = log.querySelectorAll(".line").length;
    var batches = [];
    var scheduled = false;

    function toEnd() { window.scrollTo(0, document.body.scrollHeight); }
    function setFollowing(on) {
      following = on;
      button.setAttribute("aria-pressed", String(on));
      button.textContent = on ? "Stop following" : "Follow the log";
      if (on) toEnd();
    }
    button.hidden = false;
    button.addEventListener("click", function () { setFollowing(!following); });

    function esc(s) {
      return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    }
    // line is a line's HTML; its text is server-escaped HTML (spans only).
    function line(tag, cls, html) {
      n++;
      shown++;
      return "<" + tag + ' class="' + cls + '" id="L' + n + '"><a class="ln" href="#L' + n + '">' + n +
        "</a><span>" + html + "</span></" + tag + ">";
    }
    // The innermost section still open: a closed one ends with .send.
    function openSection() {
      var c = log;
      for (;;) {
        var last = c.lastElementChild;
        if (!last || last.tagName !== "DETAILS" ||
            (last.lastElementChild && last.lastElementChild.classList.contains("send"))) return c;
        c = last;
      }
    }
    function trimmedNote() {
      var note = document.getElementById("trimmed");
      if (!note) {
        note = document.createElement("p");
        note.id = "trimmed";
        note.className = "muted";
        note.textContent = "Earlier lines are left out while following; reload to page back.";
        log.insertBefore(note, log.firstChild);
      }
      return note;
    }
    function trim() {
      if (shown <= maxLines) return;
      var note = trimmedNote();
      var keep = openSection();
      for (var first = note.nextElementSibling; first && shown > maxLines && first !== keep;
           first = note.nextElementSibling) {
        if (keep !== log && first.contains(keep)) break;
        shown -= first.classList.contains("line") ? 1 : first.querySelectorAll(".line").length;
        first.remove();
      }
    }
    function flush() {
      scheduled = false;
      var items = [].concat.apply([], batches);
      batches = [];
      var skip = following ? Math.max(0, items.length - frameLines) : 0;
      if (skip) { // all that is shown would go: start afresh
        n += skip;
        log.textContent = "";
        shown = 0;
        trimmedNote();
        items = items.slice(skip);
      }
      var c = openSection();
      var html = "";
      function out() {
        if (html) c.insertAdjacentHTML("beforeend", html);
        html = "";
      }
      for (var i = 0; i < items.length; i++) {
        var it = items[i];
        if (typeof it === "string") {
          html += line("div", "line", it);
        } else if (it.s) {
          html += '<details class="section" data-section="' + esc(it.s) + '"' + (it.c ? "" : " open") + ">" +
            line("summary", "line", it.h) + "</details>";
          out();
          c = c.lastElementChild;
        } else if (c !== log) {
          html += line("div", "line send", it.h);
          out();
          c = c.parentNode;
        } else {
          html += line("div", "line", it.h);
        }
      }
      out();
      if (following) {
        trim();
        toEnd();
      }
    }

    var source = new EventSource(log.dataset.stream);
    source.onmessage = function (e) {
      batches.push(JSON.parse(e.data));
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(flush);
      }
    };
    source.addEventListener("end", function (e) {
      source.close(); // else EventSource would reconnect
      flush();
      var status = document.getElementById("job-status");
      var st = JSON.parse(e.data);
      status.innerHTML = "";
      var span = document.createElement("span");
      span.className = "st st-" + st;
      span.textContent = st;
      status.appendChild(span);
      button.hidden = true;
    });
  }
})();
