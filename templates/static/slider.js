// Step slider over an experiment's sample grids (progressive enhancement: without JavaScript
// the page keeps its plain list of grids). The range input is keyboard operable on its own
// (arrows, Page Up/Down, Home/End); its value is a training step on the same 0..max axis as the
// charts, whose marker line follows it.
(function () {
  "use strict";
  function setup(root) {
    var viewer = root.querySelector(".slider-viewer");
    var list = root.querySelector(".slider-list");
    var snaps = Array.prototype.map.call(list.querySelectorAll("li"), function (li) {
      return { step: +li.dataset.step, src: li.dataset.src, alt: li.querySelector("img").alt };
    });
    if (!snaps.length || !viewer) return;
    var img = viewer.querySelector("img");
    var range = viewer.querySelector("input[type=range]");
    var out = viewer.querySelector("output");
    var markers = document.querySelectorAll(".chart .step-marker");

    function nearest(step) {
      // the last snapshot at or before step (the first one when step precedes them all)
      var pick = snaps[0];
      for (var i = 0; i < snaps.length && snaps[i].step <= step; i++) pick = snaps[i];
      return pick;
    }
    function show(step) {
      var s = nearest(step);
      if (img.getAttribute("src") !== s.src) img.setAttribute("src", s.src);
      img.setAttribute("alt", s.alt);
      out.textContent = s.step;
      range.setAttribute("aria-valuetext", "step " + s.step);
      markers.forEach(function (m) {
        var svg = m.ownerSVGElement;
        var x0 = +svg.dataset.x0, x1 = +svg.dataset.x1, max = +svg.dataset.maxStep;
        var x = x0 + (x1 - x0) * s.step / max;
        m.setAttribute("x1", x); m.setAttribute("x2", x);
        m.classList.add("active");
      });
      root.dataset.step = s.step;
    }
    // A post's exp:NAME@STEP link lands on #step-STEP: open the slider at that step (the id
    // belongs to the list item, hidden once the slider replaces the list).
    function fromHash() {
      var m = /^#step-(\d+)$/.exec(location.hash);
      if (!m || !snaps.some(function (s) { return s.step === +m[1]; })) return false;
      range.value = m[1];
      show(+m[1]);
      root.scrollIntoView();
      return true;
    }
    range.addEventListener("input", function () { show(+range.value); });
    window.addEventListener("hashchange", fromHash);
    viewer.hidden = false;
    list.hidden = true;
    if (!fromHash()) show(+range.value);
  }
  document.querySelectorAll(".step-slider").forEach(setup);
})();
