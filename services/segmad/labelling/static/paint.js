// The dense-labelling editor (paper Fig. 9): brush, eraser, polygon, flood fill, undo, zoom, pan.
"use strict";
(() => {
  const root = document.getElementById("editor");
  const el = (id) => document.getElementById(id);
  const canvas = el("canvas"), ctx = canvas.getContext("2d");
  const maskCanvas = document.createElement("canvas"), maskCtx = maskCanvas.getContext("2d");
  const undoStack = [], redoStack = [], LIMIT = 40;
  let image, W = 0, H = 0, labels = null, maskPixels = null;
  let view = { scale: 1, x: 0, y: 0 }, opacity = 0.55, current = 1, tool = "brush";
  let stroke = null, panning = null, spaceDown = false, polygon = [];
  let startedFrom = "", openedAt = performance.now();

  function redrawMask() {
    const data = maskPixels.data;
    for (let i = 0; i < labels.length; i++) {
      const k = labels[i], c = segmad.palette[k], o = i * 4;
      data[o] = c[0]; data[o + 1] = c[1]; data[o + 2] = c[2];
      data[o + 3] = k === 0 ? 0 : (k === 255 ? 120 : 255);
    }
    maskCtx.putImageData(maskPixels, 0, 0);
    render();
  }

  function render() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(view.scale, 0, 0, view.scale, view.x, view.y);
    ctx.drawImage(image, 0, 0);
    ctx.globalAlpha = opacity;
    ctx.drawImage(maskCanvas, 0, 0);
    ctx.globalAlpha = 1;
    if (polygon.length) {
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5 / view.scale;
      ctx.beginPath(); ctx.moveTo(polygon[0][0], polygon[0][1]);
      polygon.forEach((p) => ctx.lineTo(p[0], p[1]));
      ctx.stroke();
    }
  }

  function snapshot() {
    undoStack.push(labels.slice());
    if (undoStack.length > LIMIT) undoStack.shift();
    redoStack.length = 0;
  }
  function undo() { if (undoStack.length) { redoStack.push(labels); labels = undoStack.pop(); redrawMask(); } }
  function redo() { if (redoStack.length) { undoStack.push(labels); labels = redoStack.pop(); redrawMask(); } }

  function toImage(event) {
    const r = canvas.getBoundingClientRect();
    const cx = (event.clientX - r.left) * canvas.width / r.width, cy = (event.clientY - r.top) * canvas.height / r.height;
    return [(cx - view.x) / view.scale, (cy - view.y) / view.scale, cx, cy];
  }

  function stamp(x, y, value) {
    const radius = Number(el("size").value) / 2;
    const x0 = Math.max(0, Math.floor(x - radius)), x1 = Math.min(W - 1, Math.ceil(x + radius));
    const y0 = Math.max(0, Math.floor(y - radius)), y1 = Math.min(H - 1, Math.ceil(y + radius));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const dx = px + 0.5 - x, dy = py + 0.5 - y;
        if (dx * dx + dy * dy <= Math.max(radius * radius, 0.5)) labels[py * W + px] = value;
      }
    }
  }

  function line(from, to, value) {
    const steps = Math.max(1, Math.ceil(Math.hypot(to[0] - from[0], to[1] - from[1]) / 1.5));
    for (let s = 1; s <= steps; s++) {
      stamp(from[0] + (to[0] - from[0]) * s / steps, from[1] + (to[1] - from[1]) * s / steps, value);
    }
  }

  function floodFill(x, y, value) {
    x = Math.floor(x); y = Math.floor(y);
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const start = y * W + x, old = labels[start];
    if (old === value) return;
    const stack = [start];
    labels[start] = value;
    while (stack.length) {
      const i = stack.pop(), px = i % W;
      const neighbours = [px > 0 ? i - 1 : -1, px < W - 1 ? i + 1 : -1, i - W, i + W];
      for (const n of neighbours) {
        if (n >= 0 && n < labels.length && labels[n] === old) { labels[n] = value; stack.push(n); }
      }
    }
  }

  function closePolygon() {
    if (polygon.length >= 3) {
      snapshot();
      const scratch = document.createElement("canvas");
      scratch.width = W; scratch.height = H;
      const s = scratch.getContext("2d");
      s.fillStyle = "#fff"; s.beginPath(); s.moveTo(polygon[0][0], polygon[0][1]);
      polygon.forEach((p) => s.lineTo(p[0], p[1]));
      s.closePath(); s.fill();
      const alpha = s.getImageData(0, 0, W, H).data;
      for (let i = 0; i < labels.length; i++) if (alpha[i * 4 + 3] > 127) labels[i] = current;
    }
    polygon = [];
    redrawMask();
  }

  canvas.addEventListener("pointerdown", (event) => {
    const [x, y, cx, cy] = toImage(event);
    canvas.setPointerCapture(event.pointerId);
    if (tool === "pan" || spaceDown || event.button === 1) {
      panning = { cx, cy, x: view.x, y: view.y };
    } else if (tool === "brush" || tool === "eraser") {
      snapshot();
      const value = tool === "eraser" ? 0 : current;
      stamp(x, y, value);
      stroke = { last: [x, y], value };
      redrawMask();
    } else if (tool === "fill") {
      snapshot(); floodFill(x, y, current); redrawMask();
    } else if (tool === "polygon") {
      polygon.push([x, y]); render();
    }
  });
  canvas.addEventListener("pointermove", (event) => {
    const [x, y, cx, cy] = toImage(event);
    if (panning) {
      view.x = panning.x + cx - panning.cx; view.y = panning.y + cy - panning.cy; render();
    } else if (stroke) {
      line(stroke.last, [x, y], stroke.value); stroke.last = [x, y]; redrawMask();
    }
  });
  const endDrag = () => { stroke = null; panning = null; };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("dblclick", () => { if (tool === "polygon") { polygon.pop(); closePolygon(); } });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [, , cx, cy] = toImage(event);
    zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, cx, cy);
  }, { passive: false });

  function zoom(factor, cx = canvas.width / 2, cy = canvas.height / 2) {
    const scale = Math.min(40, Math.max(0.1, view.scale * factor));
    view.x = cx - (cx - view.x) * scale / view.scale;
    view.y = cy - (cy - view.y) * scale / view.scale;
    view.scale = scale;
    render();
  }

  function pickClass(k) {
    const button = document.querySelector('#palette button[data-class="' + k + '"]');
    if (!button) return;
    current = k;
    document.querySelectorAll("#palette button").forEach((b) => b.classList.toggle("active", b === button));
  }

  function setTool(name) { tool = name; el("tool").value = name; if (name !== "polygon") polygon = []; render(); }

  async function startFrom(model) {
    snapshot();
    startedFrom = model;
    if (!model) { labels.fill(0); redrawMask(); return; }
    const map = await segmad.labelMap(root.dataset.labels + "?model=" + encodeURIComponent(model));
    labels = map.data;
    redrawMask();
  }

  async function save() {
    const seconds = (performance.now() - openedAt) / 1000;
    const query = "?seconds=" + seconds.toFixed(2) + "&started_from=" + encodeURIComponent(startedFrom);
    const url = "/api/campaigns/" + root.dataset.campaign + "/items/" + root.dataset.item + "/mask" + query;
    try {
      await segmad.call("PUT", url, labels, "application/octet-stream");
      openedAt = performance.now();
      el("status").textContent = "saved, waiting for review";
    } catch (error) {
      el("status").textContent = "not saved: " + error.message;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "TEXTAREA") return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") { event.preventDefault(); event.shiftKey ? redo() : undo(); }
    else if ((event.ctrlKey || event.metaKey) && key === "y") { event.preventDefault(); redo(); }
    else if ((event.ctrlKey || event.metaKey) && key === "s") { event.preventDefault(); save(); }
    else if (event.ctrlKey || event.metaKey || event.altKey) return;
    else if (key === " ") { spaceDown = true; event.preventDefault(); }
    else if (key === "b") setTool("brush");
    else if (key === "e") setTool("eraser");
    else if (key === "p") setTool("polygon");
    else if (key === "f") setTool("fill");
    else if (key === "enter" && tool === "polygon") closePolygon();
    else if (key === "escape") { polygon = []; render(); }
    else if (key === "[") el("size").value = Number(el("size").value) - 2;
    else if (key === "]") el("size").value = Number(el("size").value) + 2;
    else if (key >= "0" && key <= "9") pickClass(Number(key));
  });
  document.addEventListener("keyup", (event) => { if (event.key === " ") spaceDown = false; });
  el("tool").addEventListener("change", (e) => setTool(e.target.value));
  el("opacity").addEventListener("input", (e) => { opacity = e.target.value / 100; render(); });
  el("model").addEventListener("change", (e) => startFrom(e.target.value));
  el("undo").addEventListener("click", undo);
  el("redo").addEventListener("click", redo);
  el("zoom-in").addEventListener("click", () => zoom(1.25));
  el("zoom-out").addEventListener("click", () => zoom(0.8));
  el("save").addEventListener("click", save);
  document.querySelectorAll("#palette button").forEach((b) => {
    b.addEventListener("click", () => pickClass(Number(b.dataset.class)));
  });

  (async () => {
    image = await segmad.loadImage(root.dataset.image);
    W = image.naturalWidth; H = image.naturalHeight;
    maskCanvas.width = W; maskCanvas.height = H;
    maskPixels = maskCtx.createImageData(W, H);
    labels = new Uint8Array(W * H);
    if (root.dataset.hasMask) labels = (await segmad.labelMap(root.dataset.labels + "?mask=1")).data;
    segmad.fitCanvas(canvas);
    view.scale = Math.min(canvas.width / W, canvas.height / H);
    view.x = (canvas.width - W * view.scale) / 2; view.y = (canvas.height - H * view.scale) / 2;
    pickClass(1);
    redrawMask();
    window.addEventListener("resize", () => { segmad.fitCanvas(canvas); render(); });
    root.dataset.ready = "1";
  })();
})();
