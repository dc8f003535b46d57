// The weak-rating page (paper Fig. 8): one keypress per image, the next one already loaded.
"use strict";
(() => {
  const root = document.getElementById("rate");
  const api = "/api/campaigns/" + root.dataset.campaign;
  const el = (id) => document.getElementById(id);
  const history = [];  // ids of items rated on this page, to go back and change a vote
  let current = null, shownAt = 0, busy = false;

  function preload(item) {
    if (!item) return;
    new Image().src = item.image_url;
    new Image().src = item.prediction_url;
  }

  // Nearest-neighbour only when the image is shown larger than it is (object-fit: contain).
  function sharpenIfUpscaled() {
    const img = el("image");
    const scale = Math.min(img.clientWidth / img.naturalWidth, img.clientHeight / img.naturalHeight);
    img.classList.toggle("pixelated", scale > 1);
  }

  function show(item, progress) {
    current = item;
    el("done").hidden = item !== null;
    el("stage").hidden = item === null;
    if (progress) el("progress").textContent = progress.rated + " / " + progress.total + " rated";
    document.querySelectorAll("#choices button").forEach((b) => {
      b.classList.toggle("chosen", item !== null && String(item.rating) === b.dataset.rating);
    });
    if (item === null) return;
    el("image").src = item.image_url;
    el("overlay").src = item.prediction_url;
    el("side-pred").src = item.prediction_url;
    shownAt = performance.now();
  }

  async function next() {
    const body = await (await segmad.call("GET", api + "/next")).json();
    show(body.items[0] || null, body.progress);
    preload(body.items[1]);
  }

  async function rate(value) {
    if (!current || busy) return;
    busy = true;
    try {
      const seconds = (performance.now() - shownAt) / 1000;
      const rating = value === "ood" ? "ood" : Number(value);
      await segmad.call("PUT", api + "/items/" + current.id + "/rating", { rating, seconds });
      if (!history.includes(current.id)) history.push(current.id);
      await next();
    } catch (error) {
      el("progress").textContent = "error: " + error.message;
    } finally {
      busy = false;
    }
  }

  async function back() {
    if (busy || history.length === 0) return;
    const position = current ? history.indexOf(current.id) : -1;
    const target = position > 0 ? history[position - 1] : history[history.length - 1];
    if (position === 0) return;
    const item = await (await segmad.call("GET", api + "/items/" + target + "/rating")).json();
    show(item);
  }

  const typingIn = (t) => t.tagName === "TEXTAREA" ||
    (t.tagName === "INPUT" && t.type !== "range" && t.type !== "checkbox");

  document.querySelectorAll("#choices button").forEach((b) => {
    b.addEventListener("click", () => rate(b.dataset.rating));
  });
  el("back").addEventListener("click", back);
  el("opacity").addEventListener("input", (e) => { el("overlay").style.opacity = e.target.value / 100; });
  el("side").addEventListener("change", (e) => {
    el("stage").classList.toggle("side-by-side", e.target.checked);
    sharpenIfUpscaled();
  });
  el("image").addEventListener("load", sharpenIfUpscaled);
  window.addEventListener("resize", sharpenIfUpscaled);
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
    if (e.key >= "1" && e.key <= "5") rate(e.key);
    else if (e.key === "0" || e.key === "o") rate("ood");
    else if (e.key === "Backspace") { e.preventDefault(); back(); }
  });
  next();
})();
