/* personalize beacon, optional: the site works fully without it.
 * <script src="/_personalize/static/beacon.js" data-endpoint="/_personalize/events" defer>
 * Does nothing under GPC, DNT or <html data-personalize-tracking="off">; else sets
 * the pz_tz cookie and reports dwell, slot clicks and feedback once per decision. */
(function () {
  "use strict";
  var doc = document, nav = navigator, DEC = "data-personalize-decision";
  if (nav.globalPrivacyControl || (nav.doNotTrack || window.doNotTrack) === "1" ||
      doc.documentElement.getAttribute("data-personalize-tracking") === "off") return;
  var me = doc.currentScript || doc.querySelector("script[data-endpoint]");
  var endpoint = (me && me.getAttribute("data-endpoint")) || "/_personalize/events";
  var SLOT = "[data-personalize-slot][" + DEC + "]", sent = {};

  function send(events) {
    for (var i = 0; i < events.length; i += 20) {
      var body = JSON.stringify({ events: events.slice(i, i + 20) }), queued = false;
      try { queued = nav.sendBeacon(endpoint, body); } catch (e) { /* fetch */ }
      if (!queued && window.fetch) {
        fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "text/plain" } })["catch"](function () {});
      }
    }
  }
  function once(type, decision, value) {
    var key = type + " " + decision;
    if (!decision || sent[key]) return null;
    sent[key] = 1;
    return { type: type, decision: decision, value: value };
  }

  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (/^[\w+-]+(\/[\w+-]+){0,2}$/.test(tz) && doc.cookie.indexOf("pz_tz=" + tz) < 0) {
      doc.cookie = "pz_tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (e) { /* no Intl: the site's zone is used */ }

  // Dwell: seconds visible, sent when the page is first hidden or left.
  var shown = 0, since = doc.visibilityState === "visible" ? 0 : null;
  function now() { return performance.now(); }
  function hidden() {
    if (since !== null) { shown += now() - since; since = null; }
    var s = Math.min(86400, Math.round(shown / 100) / 10), evs = [];
    var marked = doc.querySelectorAll("[" + DEC + "]");
    for (var i = 0; i < marked.length; i++) {
      var ev = once("dwell", marked[i].getAttribute(DEC), s);
      if (ev) evs.push(ev);
    }
    if (evs.length) send(evs);
  }
  doc.addEventListener("visibilitychange", function () {
    if (doc.visibilityState === "hidden") hidden();
    else if (since === null) since = now();
  });
  addEventListener("pagehide", hidden);

  // Clicks in a slot, but not on its feedback or "why" link.
  doc.addEventListener("click", function (e) {
    var t = e.target;
    if (!t.closest || t.closest("[data-personalize-feedback],[data-personalize-why]")) return;
    var slot = t.closest(SLOT), ev = slot && once("click", slot.getAttribute(DEC), 1);
    if (ev) send([ev]);
  });

  function widget(box, decision) {
    var label = doc.createElement("span");
    label.textContent = box.getAttribute("data-personalize-feedback") || "Was this helpful?";
    box.textContent = "";
    box.setAttribute("role", "status");
    box.appendChild(label);
    [[1, "\uD83D\uDC4D", "Yes, this was helpful"], [-1, "\uD83D\uDC4E", "No, this was not helpful"]]
      .forEach(function (c) {
        var b = doc.createElement("button");
        b.type = "button";
        b.textContent = c[1];
        b.setAttribute("aria-label", c[2]);
        b.addEventListener("click", function () {
          var ev = once("feedback", decision, c[0]);
          if (ev) send([ev]);
          box.textContent = "Thanks!";
          box.tabIndex = -1;
          box.focus();
        });
        box.appendChild(doc.createTextNode(" "));
        box.appendChild(b);
      });
  }
  var boxes = doc.querySelectorAll("[data-personalize-feedback]");
  for (var i = 0; i < boxes.length; i++) {
    var slot = boxes[i].closest(SLOT);
    if (slot) widget(boxes[i], slot.getAttribute(DEC));
  }
})();
