// Draws every chart of the page from the JSON spec beside it, offline, under a
// Content-Security-Policy without 'unsafe-eval': Vega evaluates expressions with
// its interpreter (vega-embed uses it when ast is true) instead of generated functions.
(function () {
  "use strict";
  function draw(holder) {
    var source = document.getElementById(holder.getAttribute("data-spec"));
    var target = holder.querySelector(".chart-canvas");
    var spec;
    try {
      spec = JSON.parse(source.textContent);
    } catch (err) {
      target.textContent = "chart data unreadable: " + err;
      holder.setAttribute("data-state", "error");
      return;
    }
    var options = {
      renderer: "svg",
      actions: false,
      ast: true,
      tooltip: { theme: "light", sanitize: function (v) { return String(v); } }
    };
    vegaEmbed(target, spec, options).then(function () {
      holder.setAttribute("data-state", "rendered");
    }).catch(function (err) {
      target.textContent = "chart could not be drawn: " + err;
      holder.setAttribute("data-state", "error");
    });
  }
  function clocks(button) {
    button.addEventListener("click", function () {
      var on = document.body.classList.toggle("own-clock");
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var holders = document.querySelectorAll("[data-spec]");
    for (var i = 0; i < holders.length; i++) { draw(holders[i]); }
    var toggles = document.querySelectorAll("[data-toggle-clock]");
    for (var j = 0; j < toggles.length; j++) { clocks(toggles[j]); }
  });
})();
