// Live log following: the only part of slipway's web interface that needs
// JavaScript. The page already shows the log up to data-stream's offset;
// the server sends the rest as events of JSON arrays of line HTML (escaped
// and coloured by the server), and an "end" event with the job's status.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !log.dataset.stream) return;
  var button = document.getElementById("follow");
  var following = true;
  var n = Number(log.dataset.lines) || 0;

  function toEnd() { window.scrollTo(0, document.body.scrollHeight); }
  function setFollowing(on) {
    following = on;
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Stop following" : "Follow the log";
    if (on) toEnd();
  }
  button.hidden = false;
  button.addEventListener("click", function () { setFollowing(!following); });

  var source = new EventSource(log.dataset.stream);
  source.onmessage = function (e) {
    var lines = JSON.parse(e.data);
    var frag = document.createDocumentFragment();
    for (var i = 0; i < lines.length; i++) {
      n++;
      var div = document.createElement("div");
      div.className = "line";
      div.id = "L" + n;
      var a = document.createElement("a");
      a.className = "ln";
      a.href = "#L" + n;
      a.textContent = n;
      var text = document.createElement("span");
      text.innerHTML = lines[i]; // server-escaped HTML: spans only
      div.appendChild(a);
      div.appendChild(text);
      frag.appendChild(div);
    }
    log.appendChild(frag);
    if (following) toEnd();
  };
  source.addEventListener("end", function (e) {
    source.close(); // else EventSource would reconnect
    var status = document.getElementById("job-status");
    status.innerHTML = "";
    var span = document.createElement("span");
    span.className = "st st-" + e.data;
    span.textContent = e.data;
    status.appendChild(span);
    button.hidden = true;
  });
})();
