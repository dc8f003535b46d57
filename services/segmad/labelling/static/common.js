// Shared helpers: JSON calls carrying the session's CSRF token, and the VOC class colours.
"use strict";
const segmad = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function call(method, url, body, contentType) {
    const headers = { "X-CSRF-Token": csrf };
    let payload = body;
    if (body !== undefined && contentType === undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (contentType) {
      headers["Content-Type"] = contentType;
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }

  // The PASCAL VOC palette: class id bits interleaved into R, G, B.
  function palette() {
    const colours = [];
    for (let label = 0; label < 256; label++) {
      let c = label, r = 0, g = 0, b = 0;
      for (let shift = 7; shift >= 0; shift--) {
        r |= (c & 1) << shift; g |= ((c >> 1) & 1) << shift; b |= ((c >> 2) & 1) << shift;
        c >>= 3;
      }
      colours.push([r, g, b]);
    }
    return colours;
  }

  async function labelMap(url) {
    const response = await call("GET", url);
    return {
      height: Number(response.headers.get("X-Height")),
      width: Number(response.headers.get("X-Width")),
      data: new Uint8Array(await response.arrayBuffer()),
    };
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("cannot load " + url));
      image.src = url;
    });
  }

  // A canvas sized by CSS draws sharp only when its buffer has as many pixels as its box.
  function fitCanvas(canvas) {
    canvas.width = Math.max(1, Math.round(canvas.clientWidth));
    canvas.height = Math.max(1, Math.round(canvas.clientHeight));
  }

  return { call, palette: palette(), labelMap, loadImage, fitCanvas };
})();
