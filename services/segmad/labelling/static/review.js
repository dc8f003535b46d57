// Cross-checking a mask: the image with the mask over it, accept or send back with a comment.
"use strict";
(() => {
  const root = document.getElementById("review");
  const el = (id) => document.getElementById(id);
  const canvas = el("canvas"), ctx = canvas.getContext("2d");
  const maskCanvas = document.createElement("canvas");
  let image, opacity = 0.55;

  function render() {
    segmad.fitCanvas(canvas);  // also on resize: the image takes all the room there is
    const scale = Math.min(canvas.width / image.naturalWidth, canvas.height / image.naturalHeight);
    const x = (canvas.width - image.naturalWidth * scale) / 2, y = (canvas.height - image.naturalHeight * scale) / 2;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = scale < 1;  // smooth when shrinking a photo, sharp pixels when enlarging
    ctx.setTransform(scale, 0, 0, scale, x, y);
    ctx.drawImage(image, 0, 0);
    ctx.globalAlpha = opacity;
    ctx.drawImage(maskCanvas, 0, 0);
    ctx.globalAlpha = 1;
  }

  async function decide(decision) {
    const url = "/api/campaigns/" + root.dataset.campaign + "/masks/" + root.dataset.mask + "/review";
    try {
      const body = await (await segmad.call("POST", url, { decision, comment: el("comment").value })).json();
      el("status").textContent = body.status;
      window.location.assign(root.dataset.back);
    } catch (error) {
      el("status").textContent = error.message;
    }
  }

  el("opacity").addEventListener("input", (e) => { opacity = e.target.value / 100; render(); });
  el("accept").addEventListener("click", () => decide("accept"));
  el("return").addEventListener("click", () => decide("return"));

  (async () => {
    image = await segmad.loadImage(root.dataset.image);
    const map = await segmad.labelMap(root.dataset.labels);
    maskCanvas.width = map.width; maskCanvas.height = map.height;
    const m = maskCanvas.getContext("2d"), pixels = m.createImageData(map.width, map.height);
    map.data.forEach((k, i) => {
      const c = segmad.palette[k];
      pixels.data.set([c[0], c[1], c[2], k === 0 ? 0 : 255], i * 4);
    });
    m.putImageData(pixels, 0, 0);
    render();
    window.addEventListener("resize", render);
    root.dataset.ready = "1";
  })();
})();
