/*
 * Larder & Loom tracker: consent-aware, dependency-free, GA4 dataLayer-compatible.
 * Nothing is sent before consent. Batches go at BATCH_SIZE, after FLUSH_MS and by
 * sendBeacon on pagehide; unsent ones wait in localStorage. Event ids are made here, so
 * a retry is stored once. An open WebSocket carries batches (unacknowledged ones go again
 * by HTTP) and brings numbered pushes of re-rendered slots and cart.
 */
(function (w, d) {
  "use strict";
  var root = d.documentElement;
  var cfg = w.llTrack || {};
  var ENDPOINT = cfg.endpoint || "/t/collect", SESSION = cfg.session || "/t/session";
  var BATCH_SIZE = 20, FLUSH_MS = 1500, MAX_QUEUE = 500, MAX_BACKOFF = 60000;
  var STORE = "ll_queue";
  var ECOMMERCE = {
    view_item_list: 1, select_item: 1, view_item: 1, add_to_cart: 1, remove_from_cart: 1,
    view_cart: 1, begin_checkout: 1, add_to_wishlist: 1
    // purchase is recorded by the server from the order itself
  };
  var queue = [], inflight = false, timer = null, backoff = 1000, started = false, seen = {};
  var script = d.currentScript, loc = w.location;
  var SOCKET = script && script.getAttribute("data-socket") ||
    (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + "/ws/live";
  var CART = script && script.getAttribute("data-cart-fragments");
  var ws = null, up = false, bid = 0, acking = null, seq = null, tries = 0, io = null, carting = null;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function save() {
    try { w.localStorage.setItem(STORE, JSON.stringify(queue.slice(-MAX_QUEUE))); } catch (e) { /* storage full or off */ }
  }
  function load() {
    try { return JSON.parse(w.localStorage.getItem(STORE) || "[]") || []; } catch (e) { return []; }
  }
  // The device class, never the user agent: an iPad asking for the desktop site shows touch.
  function device() {
    var n = w.navigator, ua = n.userAgent;
    if (/iPad|Tablet|Silk|Android(?!.*Mobi)/i.test(ua) || (n.maxTouchPoints && /Macintosh/.test(ua))) return "tablet";
    return /Mobi|iPhone/.test(ua) ? "phone" : "desktop";
  }
  function int(v) { var n = parseInt(v, 10); return isNaN(n) ? undefined : n; }
  function clean(o) {
    var out = {};
    for (var k in o) if (o[k] !== undefined && o[k] !== null && o[k] !== "") out[k] = o[k];
    return out;
  }

  function track(name, props, ids) {
    if (!started) return;
    ids = ids || {};
    queue.push(clean({
      event_id: uuid(), name: name, ts: Date.now(),
      product_id: int(ids.product_id), category_id: int(ids.category_id), props: clean(props || {})
    }));
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    save();
    if (queue.length >= BATCH_SIZE) flush(); else schedule(FLUSH_MS);
  }
  function schedule(ms) {
    if (!timer) timer = setTimeout(function () { timer = null; flush(); }, ms);
  }
  function body(batch) { return JSON.stringify({ sent_at: Date.now(), events: batch }); }

  function flush() {
    if (inflight || !queue.length || !started) return;
    if (w.navigator.onLine === false) { schedule(backoff); return; }
    var batch = inflight = queue.slice(0, BATCH_SIZE);
    if (!up) return post(batch);
    ws.send(JSON.stringify({ type: "batch", id: ++bid, sent_at: Date.now(), events: batch }));
    acking = setTimeout(resend, 5000);
  }
  function unack() { clearTimeout(acking); acking = null; bid++; }
  function done() {
    unack(); queue.splice(0, inflight.length); inflight = false; save(); backoff = 1000;
    if (queue.length) schedule(0);
  }
  // Not acknowledged on the socket: the same events, the same ids, over HTTP.
  function resend() { unack(); post(inflight); }
  function post(batch) {
    inflight = batch;
    w.fetch(ENDPOINT, {
      method: "POST", body: body(batch), credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json" }
    }).then(function (r) {
      inflight = false;
      // 5xx and 429 mean "not stored, try again"; any other answer is final for the batch.
      if (r.status >= 500 || r.status === 429) return retry();
      inflight = batch; done();
    }, function () { inflight = false; retry(); });
  }
  function retry() {
    backoff = Math.min(backoff * 2, MAX_BACKOFF);
    schedule(backoff * (0.5 + Math.random() / 2));
  }
  function connect() {
    if (ws || !w.WebSocket || d.visibilityState === "hidden") return;
    ws = new WebSocket(SOCKET);
    ws.onopen = function () {
      up = true; tries = 0;
      var el = d.querySelector("[data-slot-page]");
      ws.send(JSON.stringify({ type: "hello", seq: seq, page: el && el.getAttribute("data-slot-page"),
        products: el ? el.getAttribute("data-slot-products").split(",").map(int).filter(Boolean) : [] }));
      if (!inflight) flush();
    };
    ws.onmessage = function (ev) {
      var m = JSON.parse(ev.data);
      if (m.id === bid && acking) {
        if (m.type === "ack") done(); else { unack(); inflight = false; retry(); }
        // The socket cannot set the session cookie; a request can.
        if (m.slide) w.fetch(SESSION, { credentials: "same-origin" }).catch(function () {});
      } else if (m.type === "welcome") seq = m.seq;
      else if (m.type === "push" && (m.resync || m.seq > seq)) {
        seq = m.seq; swap(m.slots);
        // The push may beat the answer that sets the cart's session cookie (the first add).
        if (m.kind === "cart") { clearTimeout(carting); carting = setTimeout(cart, 300); }
      }
    };
    ws.onclose = function (ev) {
      ws = null; up = false;
      if (acking) resend();
      // Refused for consent or origin: this page keeps to HTTP. Hidden: back when shown.
      if (ev.code !== 4401 && ev.code !== 4403) setTimeout(connect, 1000 << Math.min(tries++, 5));
    };
  }
  function swap(slots) {
    for (var name in slots) {
      var sel = '[data-slot-block="' + name + '"]', el = d.querySelector(sel);
      if (!el) continue;
      el.outerHTML = slots[name];
      observe(d.querySelector(sel));
    }
  }
  // The cart changed elsewhere: this page's cart pieces, for the browser's current cookies.
  function cart() {
    if (!CART) return;
    w.fetch(CART + "?page=" + root.getAttribute("data-page-type"), { credentials: "same-origin" })
      .then(function (r) { return r.ok && r.json(); }).then(function (j) { if (j) swap(j.fragments); }, function () {});
  }
  function beacon() {
    if (!queue.length || !w.navigator.sendBeacon) return;
    var batch = queue.slice(0, BATCH_SIZE);
    var blob = new Blob([body(batch)], { type: "text/plain" });
    if (w.navigator.sendBeacon(ENDPOINT, blob)) { queue.splice(0, batch.length); save(); }
  }

  function itemIds(items) {
    var first = items && items[0] || {};
    return { product_id: first.item_id };
  }
  function fromDataLayer(entry) {
    if (!entry || typeof entry !== "object" || !ECOMMERCE[entry.event]) return;
    var e = entry.ecommerce || {};
    var items = (e.items || []).slice(0, 50).map(function (i) {
      return clean({ item_id: i.item_id, item_name: i.item_name, item_brand: i.item_brand, item_category: i.item_category,
        price: i.price, quantity: i.quantity, index: i.index, item_list_name: i.item_list_name });
    });
    var single = entry.event !== "view_item_list" && entry.event !== "view_cart" && entry.event !== "begin_checkout";
    track(entry.event, clean({ currency: e.currency, value: e.value, items: items, item_list_name: e.item_list_name }),
      single ? itemIds(items) : {});
  }
  function hookDataLayer() {
    var dl = w.dataLayer = w.dataLayer || [];
    var push = dl.push;
    dl.forEach(fromDataLayer);
    dl.push = function () {
      for (var i = 0; i < arguments.length; i++) fromDataLayer(arguments[i]);
      return push.apply(dl, arguments);
    };
  }

  function itemProps(el) {
    return clean({ slot: el.getAttribute("data-slot"), algorithm: el.getAttribute("data-algorithm"),
      position: int(el.getAttribute("data-position")), item_list_name: el.getAttribute("data-list") });
  }
  function ids(el) {
    return { product_id: el.getAttribute("data-product-id"), category_id: el.getAttribute("data-category-id") };
  }
  function promoProps(el) {
    return clean({ promotion_id: el.getAttribute("data-promotion-id"),
      promotion_name: el.getAttribute("data-promotion-name"), creative_slot: el.getAttribute("data-creative-slot") });
  }
  function observe(scope) {
    if (io && scope) scope.querySelectorAll("[data-track-impression], [data-promotion-id]").forEach(function (el) { io.observe(el); });
  }
  function watchImpressions() {
    if (!w.IntersectionObserver) return;
    var timers = new Map();
    io = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        var el = en.target;
        if (en.isIntersecting && en.intersectionRatio >= 0.5) {
          // Seen means at least half visible for a whole second.
          timers.set(el, setTimeout(function () {
            io.unobserve(el); timers.delete(el);
            if (el.hasAttribute("data-promotion-id")) track("view_promotion", promoProps(el));
            else track("impression", itemProps(el), ids(el));
          }, 1000));
        } else if (timers.has(el)) { clearTimeout(timers.get(el)); timers.delete(el); }
      });
    }, { threshold: [0, 0.5, 1] });
    observe(d);
  }
  function watchClicks() {
    d.addEventListener("click", function (ev) {
      var el = ev.target.closest && ev.target.closest("[data-promotion-id] a, [data-product-id] a, [data-track-click], [data-track-action]");
      if (!el) return;
      var promo = el.closest("[data-promotion-id]");
      if (promo) { track("select_promotion", promoProps(promo)); return; }
      var action = el.closest("[data-track-action]");
      if (action) {
        track("micro_conversion", clean({ action: action.getAttribute("data-track-action"),
          label: action.getAttribute("data-track-label") || undefined }));
        return;
      }
      var card = el.closest("[data-product-id]");
      if (card) { track("select_item", itemProps(card), ids(card)); return; }
      track("click", clean({ target: el.getAttribute("data-track-click"), label: (el.textContent || "").trim().slice(0, 80) }));
    }, true);
  }
  function watchScroll() {
    var marks = [25, 50, 75, 100], pending = false;
    function check() {
      pending = false;
      var h = Math.max(root.scrollHeight - w.innerHeight, 1);
      var pct = Math.min(100, Math.round((w.scrollY / h) * 100));
      while (marks.length && pct >= marks[0]) track("scroll", { percent: marks.shift() });
      if (!marks.length) w.removeEventListener("scroll", onScroll);
    }
    function onScroll() { if (!pending) { pending = true; w.requestAnimationFrame(check); } }
    w.addEventListener("scroll", onScroll, { passive: true });
  }
  function watchMedia() {
    d.querySelectorAll("video[data-track-video]").forEach(function (v) {
      v.addEventListener("play", function () {
        if (seen[v.currentSrc]) return; seen[v.currentSrc] = 1;
        track("video_play", { video: v.getAttribute("data-track-video") });
      });
    });
    d.querySelectorAll("form[data-track-search]").forEach(function (f) {
      f.addEventListener("submit", function () {
        var q = f.querySelector("[name=q]");
        if (q && q.value) track("search", { search_term: q.value.slice(0, 200) });
      });
    });
  }

  function start() {
    if (started) return;
    started = true;
    queue = load().concat(queue);
    var page = root.getAttribute("data-page-type") || undefined;
    track("page_view", clean({ page_location: w.location.pathname + w.location.search, page_title: d.title.slice(0, 200),
      page_type: page, page_referrer: d.referrer ? new URL(d.referrer).origin : undefined, device: device() }));
    hookDataLayer(); watchImpressions(); watchClicks(); watchScroll(); watchMedia();
    w.addEventListener("pagehide", beacon);
    d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") beacon(); else connect(); });
    // The heartbeat of a page looked at; a hidden one goes quiet and the server closes it.
    setInterval(function () { if (up && d.visibilityState !== "hidden") ws.send('{"type":"ping"}'); }, 25000);
    connect();
    w.addEventListener("online", function () { backoff = 1000; flush(); });
  }

  function consentBanner() {
    var banner = d.getElementById("consent-banner");
    if (!banner) return;
    banner.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var choice = ev.submitter ? ev.submitter.value : "denied";
      var data = new FormData(ev.target); data.set("choice", choice);
      w.fetch(ev.target.action, { method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json" } }).then(function (r) {
        if (!r.ok) return;
        root.setAttribute("data-consent", choice);
        banner.hidden = true;
        if (choice === "granted") start();
      });
    });
  }

  w.llTrack = { track: track, flush: flush, start: start };
  consentBanner();
  if (root.getAttribute("data-consent") === "granted") start();
})(window, document);
