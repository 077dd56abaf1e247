
  const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
  const LUT = {heat: bytes(D.cmap), div: bytes(D.diverging)};
  const [H, W] = D.image_shape, C = D.channels || 1, PX = H * W * C;
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) k === "text" ? e.textContent = v : e.setAttribute(k, v);
    for (const k of kids) if (k) e.append(k);
    return e;
  };
  function picture(values, h, w, kind, offset = 0, px = 3) {
    const c = el("canvas", {class: "px", width: w, height: h});
    c.style.width = w * px + "px"; c.style.height = h * px + "px";
    return repaint(c, values, kind, offset);
  }
  // Fill a canvas of w x h with `values` from `offset`: bytes through a colour map ("heat", "div") or
  // an image ("image": grey, or C bytes a pixel).
  function repaint(c, values, kind, offset = 0) {
    const ctx = c.getContext("2d"), img = ctx.createImageData(c.width, c.height), d = img.data, t = LUT[kind];
    for (let i = 0, n = c.width * c.height; i < n; i++) {
      const v = values[offset + i], o = 4 * i;
      if (kind !== "image") { d[o] = t[3 * v]; d[o + 1] = t[3 * v + 1]; d[o + 2] = t[3 * v + 2]; }
      else if (C === 3) { const a = offset + 3 * i; d[o] = values[a]; d[o + 1] = values[a + 1]; d[o + 2] = values[a + 2]; }
      else d[o] = d[o + 1] = d[o + 2] = v;
      d[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }
  function tile(canvas, caption, href, note, box, px = 3) {
    const t = el("span", {class: "tile"}, canvas);
    if (box) {
      const b = el("span", {class: "box"});
      Object.assign(b.style, {left: box[1] * px + "px", top: box[0] * px + "px",
                              width: (box[3] - box[1] + 1) * px + "px", height: (box[2] - box[0] + 1) * px + "px"});
      t.append(b);
    }
    if (note) t.append(el("span", {class: "note", text: note}));
    if (caption !== undefined) t.append(el("div", {}, href ? el("a", {href, text: caption}) : caption));
    return t;
  }
