  // Any traced model's forward pass in plain JavaScript, from the op list of featuremaps.model.graph:
  // each op's output a new Float32Array (an in-place ReLU cannot change a map kept earlier), sums in
  // float64. Values are {d, c, h, w}; a vector (after flatten) is {d, c: length, h: 1, w: 1}.
  function graphNet(cfg, T) {
    const ops = cfg.graph, [H0, W0] = cfg.image_shape, C0 = cfg.in_channels;
    const outSize = (n, k, s, p, d, ceil) => {
      const span = n + 2 * p - d * (k - 1) - 1;
      let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      if (ceil && (o - 1) * s >= n + p) o--;  // PyTorch: the last window must start inside the input or its left padding
      return o;
    };
    const adaptive = (n, o, i) => [Math.floor(i * n / o), Math.ceil((i + 1) * n / o)];
    const target = (size, x) => { const s = Array.isArray(size) ? size : [size, size]; return [s[0] === null ? x.h : s[0], s[1] === null ? x.w : s[1]]; };

    function conv(op, x) {
      const w = T[op.w.weight], b = op.w.bias ? T[op.w.bias] : null, g = op.groups;
      const cpg = x.c / g, [kh, kw] = op.kernel, Fo = op.F, fpg = Fo / g;
      const [sy, sx] = op.stride, [py, px] = op.padding, [dy, dx] = op.dilation;
      const h = outSize(x.h, kh, sy, py, dy, false), wd = outSize(x.w, kw, sx, px, dx, false), out = new Float32Array(Fo * h * wd);
      for (let f = 0; f < Fo; f++) {
        const c0 = Math.floor(f / fpg) * cpg;
        for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
          let s = b ? b[f] : 0;
          for (let c = 0; c < cpg; c++) for (let i = 0; i < kh; i++) {
            const iy = y * sy - py + i * dy; if (iy < 0 || iy >= x.h) continue;
            const row = ((c0 + c) * x.h + iy) * x.w, wrow = ((f * cpg + c) * kh + i) * kw;
            for (let j = 0; j < kw; j++) {
              const ix = xx * sx - px + j * dx; if (ix < 0 || ix >= x.w) continue;
              s += w[wrow + j] * x.d[row + ix];
            }
          }
          out[(f * h + y) * wd + xx] = s;
        }
      }
      return {d: out, c: Fo, h, w: wd};
    }
    function convBack(op, x, g, gx) {
      const w = T[op.w.weight], gr = op.groups, cpg = x.c / gr, [kh, kw] = op.kernel, Fo = op.F, fpg = Fo / gr;
      const [sy, sx] = op.stride, [py, px] = op.padding, [dy, dx] = op.dilation, h = g.h, wd = g.w;
      for (let f = 0; f < Fo; f++) {
        const c0 = Math.floor(f / fpg) * cpg;
        for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
          const go = g.d[(f * h + y) * wd + xx]; if (go === 0) continue;
          for (let c = 0; c < cpg; c++) for (let i = 0; i < kh; i++) {
            const iy = y * sy - py + i * dy; if (iy < 0 || iy >= x.h) continue;
            const row = ((c0 + c) * x.h + iy) * x.w, wrow = ((f * cpg + c) * kh + i) * kw;
            for (let j = 0; j < kw; j++) {
              const ix = xx * sx - px + j * dx; if (ix < 0 || ix >= x.w) continue;
              gx[row + ix] += w[wrow + j] * go;
            }
          }
        }
      }
    }
    // Each output cell's window of a pooling op: [y0, y1) x [x0, x1) in the input, and the divisor.
    function windows(op, x) {
      if (op.op === "adaptiveavg") {
        const [oh, ow] = target(op.size, x), cells = [];
        for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
          const [y0, y1] = adaptive(x.h, oh, y), [x0, x1] = adaptive(x.w, ow, xx);
          cells.push([y0, y1, x0, x1, 1, 1, (y1 - y0) * (x1 - x0)]);
        }
        return {cells, h: oh, w: ow};
      }
      const [kh, kw] = op.kernel, [sy, sx] = op.stride, [py, px] = op.padding, [dy, dx] = op.dilation || [1, 1];
      const h = outSize(x.h, kh, sy, py, dy, op.ceil), wd = outSize(x.w, kw, sx, px, dx, op.ceil), cells = [];
      for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
        const ys = y * sy - py, xs = xx * sx - px;
        if (op.op === "maxpool") { cells.push([ys, ys + (kh - 1) * dy + 1, xs, xs + (kw - 1) * dx + 1, dy, dx, 1]); continue; }
        const ye = Math.min(ys + kh, x.h + py), xe = Math.min(xs + kw, x.w + px), padded = (ye - ys) * (xe - xs);
        const y0 = Math.max(ys, 0), x0 = Math.max(xs, 0), y1 = Math.min(ye, x.h), x1 = Math.min(xe, x.w);
        cells.push([y0, y1, x0, x1, 1, 1, op.include_pad ? padded : (y1 - y0) * (x1 - x0)]);
      }
      return {cells, h, w: wd};
    }
    function pool(op, x) {
      const {cells, h, w} = windows(op, x), out = new Float32Array(x.c * h * w), at = op.op === "maxpool" ? new Int32Array(out.length) : null;
      for (let c = 0; c < x.c; c++) cells.forEach(([y0, y1, x0, x1, dy, dx, n], k) => {
        let s = op.op === "maxpool" ? -Infinity : 0, best = -1;
        for (let y = y0; y < y1; y += dy) { if (y < 0 || y >= x.h) continue;
          for (let xx = x0; xx < x1; xx += dx) { if (xx < 0 || xx >= x.w) continue;
            const i = (c * x.h + y) * x.w + xx, v = x.d[i];
            if (op.op === "maxpool") { if (v > s || best < 0) { s = v; best = i; } } else s += v;
          } }
        out[c * h * w + k] = op.op === "maxpool" ? s : s / n;
        if (at) at[c * h * w + k] = best;
      });
      return {d: out, c: x.c, h, w, at};
    }
    function poolBack(op, x, y, g, gx) {
      if (op.op === "maxpool") { for (let i = 0; i < g.d.length; i++) gx[y.at[i]] += g.d[i]; return; }
      const {cells, h, w} = windows(op, x);
      for (let c = 0; c < x.c; c++) cells.forEach(([y0, y1, x0, x1, , , n], k) => {
        const go = g.d[c * h * w + k] / n;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) gx[(c * x.h + yy) * x.w + xx] += go;
      });
    }
    const unary = (x, f) => ({d: Float32Array.from(x.d, f), c: x.c, h: x.h, w: x.w});
    const slope = (op, v) => op.op === "relu" ? (v > 0 ? 1 : 0) : op.op === "relu6" ? (v > 0 && v < 6 ? 1 : 0) : v > 0 ? 1 : op.slope;
    function run(op, xs) {
      const x = xs[0];
      switch (op.op) {
        case "conv": return conv(op, x);
        case "bn": {
          const m = T[op.w.mean], v = T[op.w.var], g = op.w.weight ? T[op.w.weight] : null, b = op.w.bias ? T[op.w.bias] : null, hw = x.h * x.w, out = new Float32Array(x.d.length);
          for (let c = 0; c < x.c; c++) { const s = (g ? g[c] : 1) / Math.sqrt(v[c] + op.eps), o = b ? b[c] : 0;
            for (let i = 0; i < hw; i++) out[c * hw + i] = (x.d[c * hw + i] - m[c]) * s + o; }
          return {d: out, c: x.c, h: x.h, w: x.w};
        }
        case "relu": return unary(x, v => Math.max(0, v));
        case "relu6": return unary(x, v => Math.min(6, Math.max(0, v)));
        case "leaky": return unary(x, v => v > 0 ? v : v * op.slope);
        case "maxpool": case "avgpool": case "adaptiveavg": return pool(op, x);
        case "add": { const out = new Float32Array(x.d.length); for (let i = 0; i < out.length; i++) out[i] = x.d[i] + xs[1].d[i]; return {d: out, c: x.c, h: x.h, w: x.w}; }
        case "cat": { const out = new Float32Array(xs.reduce((a, v) => a + v.d.length, 0)); let o = 0;
          for (const v of xs) { out.set(v.d, o); o += v.d.length; }
          return {d: out, c: xs.reduce((a, v) => a + v.c, 0), h: x.h, w: x.w}; }
        case "flatten": return {d: x.d, c: x.d.length, h: 1, w: 1};
        case "linear": {
          const w = T[op.w.weight], b = op.w.bias ? T[op.w.bias] : null, n = x.d.length, o = w.length / n, out = new Float32Array(o);
          for (let r = 0; r < o; r++) { let s = b ? b[r] : 0; for (let i = 0; i < n; i++) s += w[r * n + i] * x.d[i]; out[r] = s; }
          return {d: out, c: o, h: 1, w: 1};
        }
        case "identity": return x;
      }
      throw new Error(`the page does not run ${op.op}`);
    }
    function forward(pixels, keep = false) {
      const mean = T.pixel_mean, std = T.pixel_std, x = new Float32Array(C0 * H0 * W0);
      for (let c = 0; c < C0; c++) for (let i = 0; i < H0 * W0; i++) x[c * H0 * W0 + i] = (pixels[i * C0 + c] / 255 - mean[c]) / std[c];
      const vals = [{d: x, c: C0, h: H0, w: W0}], maps = {};
      for (let i = 1; i < ops.length; i++) {
        vals.push(run(ops[i], ops[i].in.map(j => vals[j])));
        for (const layer of ops[i].maps || []) maps[layer] = vals[i].d;
      }
      const logits = vals[vals.length - 1].d;
      return keep ? {logits, maps, saved: vals} : {logits, maps};
    }
    // Grad-CAM of layer cfg.gradcam_layer for class `target` (Captum's LayerGradCam on that layer's output,
    // relu_attributions): the gradient of the logit back to the layer's map A; ReLU(sum_f mean(dA_f) A_f).
    const camOp = ops.findIndex(op => (op.maps || []).includes(cfg.gradcam_layer));
    const after = (() => {  // the ops the layer's output reaches: the only ones the gradient goes back through
      const on = new Uint8Array(ops.length); on[camOp] = 1;
      for (let i = camOp + 1; i < ops.length; i++) if (ops[i].in.some(j => on[j])) on[i] = 1;
      return on;
    })();
    function gradcam(pixels, target, r = forward(pixels, true)) {
      const vals = r.saved, grads = vals.map(() => null), last = ops.length - 1;
      grads[last] = new Float64Array(vals[last].d.length); grads[last][target] = 1;
      for (let i = last; i > camOp; i--) {
        const op = ops[i], g = grads[i]; if (!g || !after[i]) continue;
        const into = j => grads[j] || (grads[j] = new Float64Array(vals[j].d.length));
        const live = op.in.filter(j => after[j]);
        if (!live.length) continue;
        const gv = {d: g, c: vals[i].c, h: vals[i].h, w: vals[i].w}, x = vals[op.in[0]];
        switch (op.op) {
          case "identity": case "flatten": { const gx = into(op.in[0]); for (let k = 0; k < g.length; k++) gx[k] += g[k]; break; }
          case "relu": case "relu6": case "leaky": { const gx = into(op.in[0]); for (let k = 0; k < g.length; k++) gx[k] += g[k] * slope(op, x.d[k]); break; }
          case "bn": { const v = T[op.w.var], gm = op.w.weight ? T[op.w.weight] : null, hw = x.h * x.w, gx = into(op.in[0]);
            for (let c = 0; c < x.c; c++) { const s = (gm ? gm[c] : 1) / Math.sqrt(v[c] + op.eps); for (let k = 0; k < hw; k++) gx[c * hw + k] += g[c * hw + k] * s; } break; }
          case "add": for (const j of live) { const gx = into(j); for (let k = 0; k < g.length; k++) gx[k] += g[k]; } break;
          case "cat": { let o = 0; for (const j of op.in) { const n = vals[j].d.length; if (after[j]) { const gx = into(j); for (let k = 0; k < n; k++) gx[k] += g[o + k]; } o += n; } break; }
          case "linear": { const w = T[op.w.weight], n = x.d.length, gx = into(op.in[0]);
            for (let o = 0; o < g.length; o++) if (g[o] !== 0) for (let k = 0; k < n; k++) gx[k] += w[o * n + k] * g[o]; break; }
          case "conv": convBack(op, x, gv, into(op.in[0])); break;
          case "maxpool": case "avgpool": case "adaptiveavg": poolBack(op, x, vals[i], gv, into(op.in[0])); break;
        }
      }
      const A = vals[camOp], gA = grads[camOp] || new Float64Array(A.d.length), hw = A.h * A.w, cam = new Float32Array(hw);
      for (let f = 0; f < A.c; f++) {
        let alpha = 0; for (let k = 0; k < hw; k++) alpha += gA[f * hw + k]; alpha /= hw;
        for (let k = 0; k < hw; k++) cam[k] += alpha * A.d[f * hw + k];
      }
      for (let k = 0; k < hw; k++) cam[k] = Math.max(0, cam[k]);
      return {cam, h: A.h, w: A.w, logits: r.logits, maps: r.maps};
    }
    return {forward, gradcam, config: cfg};
  }
