
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
    const ctx = c.getContext("2d"), img = ctx.createImageData(w, h);
    for (let i = 0; i < h * w; i++) {
      const v = values[offset + i], t = LUT[kind];
      const rgb = kind !== "image" ? [t[3 * v], t[3 * v + 1], t[3 * v + 2]]
        : C === 3 ? values.subarray(offset + 3 * i, offset + 3 * i + 3) : [v, v, v];
      img.data.set([...rgb, 255], 4 * i);
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
