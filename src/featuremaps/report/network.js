  // The trained network's forward pass in plain JavaScript, from D.network (featuremaps.model.export):
  // normalise, then per block conv -> [batch norm] -> max pool 2 -> ReLU, then the fully connected
  // layers. Float32 storage, float64 sums. Net.forward(pixels) takes uint8 [H*W*C] (row-major, channels
  // last) and returns {logits, maps: {convN: Float32Array [F*h*w], the map before pool and ReLU}}.
  // buildNet(): the network of D.network, once its tensors are there (the explorer loads them with the
  // draw view); Net: built at once where the page holds them, else null until then.
  function buildNet() {
    if (!D.network || !D.network.tensors || JSON.parse(D.network.config).draw === false) return null;
    const f32 = s => { const b = Uint8Array.from(atob(s), c => c.charCodeAt(0)); return new Float32Array(b.buffer); };
    const cfg = JSON.parse(D.network.config), T = {};
    for (const [k, v] of Object.entries(D.network.tensors)) T[k] = f32(v);
    if (cfg.graph) return graphNet(cfg, T);  // any other model: its traced graph (graph.js)
    const [H0, W0] = cfg.image_shape, C0 = cfg.in_channels, k = cfg.kernel_size, pad = Math.floor(k / 2);
    function conv(x, C, H, W, w, b, F) {
      const out = new Float32Array(F * H * W);
      for (let f = 0; f < F; f++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
        let s = b[f];
        for (let c = 0; c < C; c++) for (let i = 0; i < k; i++) {
          const yy = y + i - pad; if (yy < 0 || yy >= H) continue;
          for (let j = 0; j < k; j++) {
            const xj = xx + j - pad; if (xj < 0 || xj >= W) continue;
            s += w[((f * C + c) * k + i) * k + j] * x[(c * H + yy) * W + xj];
          }
        }
        out[(f * H + y) * W + xx] = s;
      }
      return out;
    }
    function batchNorm(x, F, HW, n) {
      const m = T[`bn${n}.running_mean`], v = T[`bn${n}.running_var`], g = T[`bn${n}.weight`], b = T[`bn${n}.bias`];
      for (let f = 0; f < F; f++) {
        const scale = g[f] / Math.sqrt(v[f] + 1e-5);
        for (let i = 0; i < HW; i++) x[f * HW + i] = (x[f * HW + i] - m[f]) * scale + b[f];
      }
      return x;
    }
    function poolRelu(x, F, H, W) {
      const h = Math.floor(H / 2), w = Math.floor(W / 2), out = new Float32Array(F * h * w);
      for (let f = 0; f < F; f++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
        const a = (f * H + 2 * y) * W + 2 * xx;
        out[(f * h + y) * w + xx] = Math.max(0, x[a], x[a + 1], x[a + W], x[a + W + 1]);
      }
      return out;
    }
    // Grad-CAM of the last conv layer for class `target` (Captum's LayerGradCam with ReLU): the
    // gradient of that logit back through the fully connected layers, the ReLU and the max pool to
    // the layer's map A [F, h, w]; weights = its spatial mean per channel; ReLU(sum_f w_f A_f). `r` is
    // forward(pixels, true) when the caller has it already (one forward for several classes). With
    // `rectified`, the maps weighed are ReLU(A) (attribute.gradcam_map: rectified): max pool and ReLU
    // commute, so the gradients, and the weights, are the same; only the sum differs.
    function gradcam(pixels, target, r = forward(pixels, true), rectified = false) {
      const s = r.saved, n_fc = cfg.fc_units.length + 1;
      let g = new Float32Array(r.logits.length); g[target] = 1;
      for (let l = n_fc; l >= 1; l--) {
        const w = T[`fc${l}.weight`], input = s.fc_in[l - 1], i_n = input.length, gin = new Float64Array(i_n);
        for (let o = 0; o < g.length; o++) if (g[o] !== 0) for (let i = 0; i < i_n; i++) gin[i] += w[o * i_n + i] * g[o];
        if (l > 1) for (let i = 0; i < i_n; i++) if (!(input[i] > 0)) gin[i] = 0;  // the ReLU before fc l
        g = gin;
      }
      const {A, F, H, W} = s.last, h = Math.floor(H / 2), w = Math.floor(W / 2), gA = new Float64Array(F * H * W);
      for (let f = 0; f < F; f++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const go = g[(f * h + y) * w + x], a = (f * H + 2 * y) * W + 2 * x, cells = [a, a + 1, a + W, a + W + 1];
        let best = cells[0];
        for (const c of cells) if (A[c] > A[best]) best = c;  // the first of equal maxima, as PyTorch
        if (A[best] > 0) gA[best] += go;  // ReLU after the pool: no gradient where the max is not positive
      }
      const cam = new Float32Array(H * W);
      for (let f = 0; f < F; f++) {
        let alpha = 0; for (let i = 0; i < H * W; i++) alpha += gA[f * H * W + i]; alpha /= H * W;
        for (let i = 0; i < H * W; i++) cam[i] += alpha * (rectified ? Math.max(0, A[f * H * W + i]) : A[f * H * W + i]);
      }
      for (let i = 0; i < H * W; i++) cam[i] = Math.max(0, cam[i]);
      return {cam, h: H, w: W, logits: r.logits, maps: r.maps};
    }
    function forward(pixels, keep = false) {
      let x = new Float32Array(C0 * H0 * W0), C = C0, H = H0, W = W0;
      const mean = T.pixel_mean, std = T.pixel_std;
      for (let c = 0; c < C0; c++) for (let i = 0; i < H0 * W0; i++) x[c * H0 * W0 + i] = (pixels[i * C0 + c] / 255 - mean[c]) / std[c];
      const maps = {}, saved = {fc_in: []};
      cfg.conv_channels.forEach((F, b) => {
        const n = b + 1;
        let y = conv(x, C, H, W, T[`conv${n}.weight`], T[`conv${n}.bias`], F);
        if (cfg.batch_norm) y = batchNorm(y, F, H * W, n);
        maps[`conv${n}`] = y;
        saved.last = {A: y, F, H, W};
        x = poolRelu(y, F, H, W); C = F; H = Math.floor(H / 2); W = Math.floor(W / 2);
      });
      const n_fc = cfg.fc_units.length + 1;
      for (let l = 1; l <= n_fc; l++) {
        saved.fc_in.push(x);
        const w = T[`fc${l}.weight`], b = T[`fc${l}.bias`], o = b.length, i_n = x.length, y = new Float32Array(o);
        for (let r = 0; r < o; r++) { let s = b[r]; for (let i = 0; i < i_n; i++) s += w[r * i_n + i] * x[i]; y[r] = l < n_fc ? Math.max(0, s) : s; }
        x = y;
      }
      return keep ? {logits: x, maps, saved} : {logits: x, maps};
    }
    return {forward, gradcam, config: cfg};
  }
  let Net = buildNet();
