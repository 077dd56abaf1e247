  // A drawing prepared as featuremaps.image.prepare does for a grey model: inverted when its border
  // is light, the paper's level and noise subtracted, contrast stretched, cropped to the ink, scaled
  // with Pillow's Lanczos filter (its fixed-point arithmetic) so the longer side fills the frame
  // less `margin`, and placed by its centre of mass. Prep.digit(grey Uint8Array [h*w], h, w,
  // [H, W], margin) -> Uint8Array [H*W].
  const Prep = (() => {
    const roundEven = v => { const f = Math.floor(v), d = v - f; return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; };
    const median = a => { const s = Float64Array.from(a).sort(), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
    function border(g, h, w) {
      const out = [];
      for (let x = 0; x < w; x++) out.push(g[x]);
      for (let x = 0; x < w; x++) out.push(g[(h - 1) * w + x]);
      for (let y = 0; y < h; y++) out.push(g[y * w]);
      for (let y = 0; y < h; y++) out.push(g[y * w + w - 1]);
      return out;
    }
    function background(g, h, w) {
      const e = border(g, h, w), m = median(e);
      return m + 3 * median(e.map(v => Math.abs(v - m)));
    }
    const sinc = x => x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const lanczos = x => (x > -3 && x < 3) ? sinc(x) * sinc(x / 3) : 0;
    const BITS = 22;
    // Pillow's precompute_coeffs and normalize_coeffs_8bpc for one axis
    function coeffs(inSize, outSize) {
      const scale = inSize / outSize, fscale = Math.max(scale, 1), support = 3 * fscale, out = [];
      for (let xx = 0; xx < outSize; xx++) {
        const center = (xx + 0.5) * scale, ss = 1 / fscale;
        const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
        const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
        const k = []; let ww = 0;
        for (let x = 0; x < xmax; x++) { const v = lanczos((x + xmin - center + 0.5) * ss); k.push(v); ww += v; }
        out.push({xmin, k: k.map(v => { const p = ww !== 0 ? v / ww : v; return p < 0 ? Math.trunc(-0.5 + p * (1 << BITS)) : Math.trunc(0.5 + p * (1 << BITS)); })});
      }
      return out;
    }
    const clip8 = ss => Math.min(255, Math.max(0, Math.floor(ss / (1 << BITS))));
    function resize(src, h, w, H, W) {  // uint8 [h*w] -> [H*W], horizontal pass then vertical, as Pillow
      let img = src, cw = w;
      if (W !== w) {
        const c = coeffs(w, W), out = new Uint8Array(h * W);
        for (let y = 0; y < h; y++) for (let x = 0; x < W; x++) {
          let ss = 1 << (BITS - 1); const {xmin, k} = c[x];
          for (let i = 0; i < k.length; i++) ss += img[y * w + xmin + i] * k[i];
          out[y * W + x] = clip8(ss);
        }
        img = out; cw = W;
      }
      if (H !== h) {
        const c = coeffs(h, H), out = new Uint8Array(H * cw);
        for (let y = 0; y < H; y++) for (let x = 0; x < cw; x++) {
          let ss = 1 << (BITS - 1); const {xmin, k} = c[y];
          for (let i = 0; i < k.length; i++) ss += img[(xmin + i) * cw + x] * k[i];
          out[y * cw + x] = clip8(ss);
        }
        img = out;
      }
      return img;
    }
    function digit(grey, h, w, [H, W], margin) {
      let g = Uint8Array.from(grey);
      if (median(border(g, h, w)) > 127) g = g.map(v => 255 - v);
      if (h === H && w === W) return g;
      const bg = background(g, h, w), level = new Float64Array(h * w);
      let top = -Infinity;
      for (let i = 0; i < h * w; i++) { level[i] = g[i] - bg; top = Math.max(top, level[i]); }
      for (let i = 0; i < h * w; i++) level[i] = top > 0 ? Math.min(1, Math.max(0, level[i] / top)) : 0;
      let y0 = h, y1 = -1, x0 = w, x1 = -1;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (level[y * w + x] >= 0.25) {
        y0 = Math.min(y0, y); y1 = Math.max(y1, y); x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      }
      if (y1 < 0) { y0 = 0; y1 = h - 1; x0 = 0; x1 = w - 1; }
      const ph = y1 - y0 + 1, pw = x1 - x0 + 1, crop = new Uint8Array(ph * pw);
      for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) crop[y * pw + x] = roundEven(level[(y + y0) * w + x + x0] * 255);
      const boxH = Math.max(H - 2 * margin, 1), boxW = Math.max(W - 2 * margin, 1), scale = Math.min(boxH / ph, boxW / pw);
      const nh = Math.max(1, roundEven(ph * scale)), nw = Math.max(1, roundEven(pw * scale));
      const patch = resize(crop, ph, pw, nh, nw);
      let sum = 0, sy = 0, sx = 0;
      for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) { const v = patch[y * nw + x]; sum += v; sy += y * v; sx += x * v; }
      let row, col;
      if (margin > 0 && sum > 0) { row = roundEven(H / 2 - 0.5 - sy / sum); col = roundEven(W / 2 - 0.5 - sx / sum); }
      else { row = Math.floor((H - nh) / 2); col = Math.floor((W - nw) / 2); }
      row = Math.min(Math.max(row, 0), H - nh); col = Math.min(Math.max(col, 0), W - nw);
      const out = new Uint8Array(H * W);
      for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) out[(y + row) * W + x + col] = patch[y * nw + x];
      return out;
    }
    // Pillow's convert("L") of one RGB pixel (ITU-R 601-2 luma, its fixed-point rounding)
    const luma = (r, g, b) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    function grey(rgba) {
      const out = new Uint8Array(rgba.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
      return out;
    }
    // An image drawn s times larger (RGBA [H*s x W*s]) back to [H*W*C]: the mean of each s x s block,
    // grey (C 1) or colour (C 3). An image drawn by nearest-neighbour scaling comes back unchanged.
    function blocks(rgba, H, W, s, C) {
      const out = new Uint8Array(H * W * C), sum = new Float64Array(3), pw = W * s;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        sum.fill(0);
        for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
          const o = 4 * ((y * s + i) * pw + x * s + j);
          if (C === 1) sum[0] += luma(rgba[o], rgba[o + 1], rgba[o + 2]);
          else for (let c = 0; c < 3; c++) sum[c] += rgba[o + c];
        }
        for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = Math.round(sum[c] / (s * s));
      }
      return out;
    }
    return {digit, resize, grey, blocks};
  })();
