  // The trained network's forward pass in plain JavaScript, from D.network (featuremaps.model.export):
  // normalise, then per block conv -> [batch norm] -> max pool 2 -> ReLU, then the fully connected
  // layers. Float32 storage, float64 sums. Net.forward(pixels) takes uint8 [H*W*C] (row-major, channels
  // last) and returns {logits, maps: {convN: Float32Array [F*h*w], the map before pool and ReLU}}.
  const Net = (() => {
    if (!D.network) return null;
    const f32 = s => { const b = Uint8Array.from(atob(s), c => c.charCodeAt(0)); return new Float32Array(b.buffer); };
    const cfg = JSON.parse(D.network.config), T = {};
    for (const [k, v] of Object.entries(D.network.tensors)) T[k] = f32(v);
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
    function forward(pixels) {
      let x = new Float32Array(C0 * H0 * W0), C = C0, H = H0, W = W0;
      const mean = T.pixel_mean, std = T.pixel_std;
      for (let c = 0; c < C0; c++) for (let i = 0; i < H0 * W0; i++) x[c * H0 * W0 + i] = (pixels[i * C0 + c] / 255 - mean[c]) / std[c];
      const maps = {};
      cfg.conv_channels.forEach((F, b) => {
        const n = b + 1;
        let y = conv(x, C, H, W, T[`conv${n}.weight`], T[`conv${n}.bias`], F);
        if (cfg.batch_norm) y = batchNorm(y, F, H * W, n);
        maps[`conv${n}`] = y;
        x = poolRelu(y, F, H, W); C = F; H = Math.floor(H / 2); W = Math.floor(W / 2);
      });
      const n_fc = cfg.fc_units.length + 1;
      for (let l = 1; l <= n_fc; l++) {
        const w = T[`fc${l}.weight`], b = T[`fc${l}.bias`], o = b.length, i_n = x.length, y = new Float32Array(o);
        for (let r = 0; r < o; r++) { let s = b[r]; for (let i = 0; i < i_n; i++) s += w[r * i_n + i] * x[i]; y[r] = l < n_fc ? Math.max(0, s) : s; }
        x = y;
      }
      return {logits: x, maps};
    }
    return {forward, config: cfg};
  })();
