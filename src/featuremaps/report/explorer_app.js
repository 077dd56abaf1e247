
(() => {
  const D = window.FEATUREMAPS;/*@helpers.js@*//*@network.js@*//*@prepare.js@*/
  window.featuremapsNet = {Net, Prep};  // the hook tests drive the page's network through
  const featureLink = (layer, n) => `#${layer}/${n}`;
  const classLink = c => `#class/${c}`;
  const classInputs = bytes(D.class_inputs), exampleInputs = bytes(D.example_inputs);
  const T = D.timelapse, probeImages = T ? bytes(T.probe_images) : null;
  const section = (title, ...kids) => el("section", {}, el("h3", {text: title}), ...kids);

  function histogram(hist) {
    const c = el("canvas", {width: 520, height: 180});
    const ctx = c.getContext("2d"), pad = 28;
    const top = Math.max(1e-12, ...hist.density.flat());
    ctx.strokeStyle = "#999"; ctx.strokeRect(pad, 5, c.width - pad - 5, c.height - pad - 5);
    hist.density.forEach((d, k) => {
      if (!d.length) return;
      ctx.strokeStyle = D.class_colours[k]; ctx.beginPath();
      d.forEach((v, i) => {
        const x = pad + (c.width - pad - 5) * (i + 0.5) / d.length, y = c.height - pad - (c.height - pad - 10) * v / top;
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.stroke();
    });
    ctx.fillStyle = "#444"; ctx.font = "11px sans-serif";
    ctx.fillText(hist.lo.toPrecision(3), pad, c.height - 10);
    ctx.fillText(hist.hi.toPrecision(3), c.width - 50, c.height - 10);
    ctx.fillText("summed activation", c.width / 2 - 50, c.height - 10);
    const legend = el("div", {class: "grid"}, ...D.classes.map((name, k) =>
      el("span", {style: `color:${D.class_colours[k]}`, text: "\u2014 " + name})));
    return el("div", {}, el("div", {class: "wrap"}, c), legend);
  }

  function showFeature(layer, n) {
    const f = D.features[layer][n - 1], view = document.getElementById("view");
    const all = D.layers.flatMap(l => D.features[l].map((_, i) => [l, i + 1]));
    const at = all.findIndex(([l, i]) => l === layer && i === n);
    const [pl, pn] = all[(at - 1 + all.length) % all.length], [nl, nn] = all[(at + 1) % all.length];
    view.replaceChildren(
      el("p", {class: "viewnav"}, el("a", {href: "#", text: "\u2190 overview"}),
         el("a", {href: featureLink(pl, pn), text: `\u2039 ${pl} ${pn}`}), el("a", {href: featureLink(nl, nn), text: `${nl} ${nn} \u203a`}),
         el("span", {class: "muted", text: "(arrow keys step)"})),
      el("h2", {text: `${layer} \u00b7 feature ${n}`}));
    const vis = f.vis.map((s, i) => tile(picture(bytes(s), H, W, "image"), i < f.vis.length - 1 ? `seed ${i + 1}` : "refined",
                                       null, f.vis_ratio[i] === null ? "" : `x${f.vis_ratio[i].toFixed(1)}`));
    view.append(section("What it looks for: inputs that maximise it", el("div", {class: "grid"}, ...vis),
      el("p", {class: "muted", text: `xN: its ${D.activation} activation relative to the best ${D.split} image's.`})));
    view.append(section(`Top ${D.split} images (by ${D.top_k_by === "max" ? "strongest unit" : "summed activation"}; box: what the strongest unit sees)`,
      el("div", {class: "grid"}, ...f.top.map(t => tile(picture(bytes(t.image), H, W, "image"), t.label, null, "", t.box)))));
    if (T) view.append(formation(layer, n, f.filter.shape));
    const [ci, kh, kw] = f.filter.shape, kernel = bytes(f.filter.data);
    view.append(section(`Filter (${kh}x${kw}, ${ci} input channel${ci > 1 ? "s" : ""}; red +, blue \u2212, up to \u00b1${f.filter.scale.toPrecision(3)})`,
      el("div", {class: "grid"}, ...Array.from({length: ci}, (_, i) => tile(picture(kernel, kh, kw, "div", i * kh * kw, 10), ci > 1 ? `in ${i + 1}` : "")))));
    const [mh, mw] = f.class_means.shape, means = bytes(f.class_means.data), px = Math.max(2, Math.round(84 / mh));
    view.append(section(`Mean map per class over the ${D.split} split (one scale, up to ${f.class_means.max.toPrecision(3)}), beside the class's mean input`,
      el("div", {class: "grid"}, ...D.classes.flatMap((name, c) => [
        tile(picture(classInputs, H, W, "image", c * PX, 2), "", null),
        tile(picture(means, mh, mw, "heat", c * mh * mw, px * 2 / 3), name, classLink(c))]))));
    const maps = bytes(f.examples.data);
    view.append(section(`Its map for one ${D.split} image per class (one scale, up to ${f.examples.max.toPrecision(3)})`,
      el("div", {class: "grid"}, ...D.classes.flatMap((name, c) => D.example_present[c] ? [
        tile(picture(exampleInputs, H, W, "image", c * PX, 2), ""),
        tile(picture(maps, mh, mw, "heat", c * mh * mw, px * 2 / 3), name, classLink(c))] : []))));
    view.append(section("Histogram by class: each image's summed activation, density per class", histogram(f.histogram)));
    const rows = D.classes.concat(["all"]).map((name, c) => {
      const s = f.selectivity[c], lost = f.accuracy_lost[c];
      return el("tr", {}, el("th", {}, c < D.classes.length ? el("a", {href: classLink(c), text: name}) : "all images"),
        el("td", {text: c < D.classes.length && f.class_mean_sum[c] !== null ? f.class_mean_sum[c].toPrecision(4) : ""}),
        el("td", {}, s === undefined ? "" : el("span", {class: "bar", style: `width:${Math.round(80 * s)}px`})),
        el("td", {text: lost === null ? "" : `${lost.toFixed(1)} pp`}));
    });
    view.append(section(`Selectivity and ablation per class (${D.attribution_split} split)`, el("div", {class: "wrap"}, el("table", {},
      el("tr", {}, el("th", {text: "class"}), el("th", {text: "mean summed activation"}), el("th", {text: "selectivity (least 0, most 1)"}),
         el("th", {text: "accuracy lost when zeroed"})), ...rows))));
  }

  // The epoch slider of a feature: its filter, selectivity, top probe images and optimised inputs
  // as they were at each kept epoch (the optimised inputs at the latest vis epoch up to it).
  function formation(layer, n, [ci, kh, kw]) {
    const t = T.features[layer][n - 1], kernels = bytes(t.filter.data), last = T.epochs.length - 1;
    const slider = el("input", {type: "range", id: "epoch", min: 0, max: last, step: 1, value: T.epochs.indexOf(T.reference) >= 0 ? T.epochs.indexOf(T.reference) : last,
                                "aria-label": "epoch"});
    const label = el("output", {id: "epoch-label", for: "epoch"}), body = el("div", {id: "formation"});
    function draw() {
      const i = +slider.value, epoch = T.epochs[i];
      const v = T.vis_epochs.reduce((best, e, k) => e <= epoch ? k : best, -1);
      label.textContent = `epoch ${epoch}` + (epoch === T.reference ? " (best: the model shown elsewhere)" : "") +
        `; ${layer} CKA to the best epoch ${T.cka[layer][i].toFixed(3)}`;
      const seeds = v < 0 ? [] : Array.from({length: T.seeds}, (_, s) => tile(picture(bytes(t.vis[v]), H, W, "image", s * PX), `epoch ${T.vis_epochs[v]}`));
      body.replaceChildren(
        el("p", {class: "muted", text: `Filter (one scale for every epoch, up to \u00b1${t.filter.scale.toPrecision(3)}) and ` +
          (v < 0 ? "no optimised input up to this epoch" : `the optimised input${T.seeds > 1 ? "s" : ""} of epoch ${T.vis_epochs[v]}`)}),
        el("div", {class: "grid"},
          ...Array.from({length: ci}, (_, c) => tile(picture(kernels, kh, kw, "div", (i * ci + c) * kh * kw, 10), ci > 1 ? `in ${c + 1}` : "filter")),
          ...seeds),
        el("p", {text: t.dead[i] ? "Dead: zero on every probe image at this epoch." :
          `Class selectivity ${t.selectivity[i].toFixed(3)}, most for ${D.classes[t.preferred[i]]}. Its top ${t.top[i].length} of the ${T.probe_count} probe images (val):`}),
        el("div", {class: "grid"}, ...t.top[i].map(k => tile(picture(probeImages, H, W, "image", k * PX), D.classes[T.probe_labels[k]]))));
    }
    slider.addEventListener("input", draw);
    draw();
    return section(`How it formed, epoch by epoch (${T.epochs.length < T.all_epochs ? `${T.epochs.length} of the ${T.all_epochs}` : T.epochs.length} kept epochs)`,
      el("p", {}, slider, " ", label), body);
  }

  function showClass(c) {
    const v = D.class_views[c], view = document.getElementById("view"), name = D.classes[c];
    view.replaceChildren(el("p", {class: "viewnav"}, el("a", {href: "#", text: "\u2190 overview"}),
      el("a", {href: classLink((c - 1 + D.classes.length) % D.classes.length), text: "\u2039 previous class"}),
      el("a", {href: classLink((c + 1) % D.classes.length), text: "next class \u203a"})),
      el("h2", {text: `class ${name}`}));
    view.append(section(`Mean input and mean Grad-CAM for ${name} over ${v.count} ${D.attribution_split} images`, el("div", {class: "grid"},
      tile(picture(classInputs, H, W, "image", c * PX), "mean input"),
      ...D.layers.map(l => tile(picture(bytes(v.gradcam[l]), H, W, "heat"), `${l} Grad-CAM`)))));
    for (const layer of D.layers) {
      const fs = D.features[layer];
      view.append(section(`${layer}: its mean map in each feature (each feature's own scale)`, el("div", {class: "grid"},
        ...fs.map((f, i) => { const [mh, mw] = f.class_means.shape;
          return tile(picture(bytes(f.class_means.data), mh, mw, "heat", c * mh * mw, Math.max(2, Math.round(56 / mh))), `${i + 1}`, featureLink(layer, i + 1)); }))));
      const rank = key => fs.map((f, i) => [f[key][c], i + 1]).filter(([x]) => x !== null).sort((a, b) => b[0] - a[0]).slice(0, 5);
      view.append(el("p", {}, `${layer}, depends on most (accuracy lost when zeroed): `,
        ...rank("accuracy_lost").flatMap(([x, i]) => [el("a", {href: featureLink(layer, i), text: `feature ${i}`}), ` (${x.toFixed(1)} pp) `])));
      view.append(el("p", {}, `${layer}, fires most (selectivity): `,
        ...rank("selectivity").flatMap(([x, i]) => [el("a", {href: featureLink(layer, i), text: `feature ${i}`}), ` (${x.toFixed(2)}) `])));
    }
    const confusions = v.confusion.map((n, p) => [n, p]).filter(([n, p]) => n > 0 && p !== c);
    view.append(section("Confusions (val split, kept epoch)", el("p", {}, confusions.length ? "" : "none",
      ...confusions.flatMap(([n, p]) => [el("a", {href: classLink(p), text: `as ${D.classes[p]}`}), `: ${n}  `]))));
    view.append(section(`Misclassified ${D.attribution_split} images: ${v.all_misclassified}` +
                        (v.all_misclassified > v.misclassified_images.length ? ` (the first ${v.misclassified_images.length})` : ""),
      el("div", {class: "grid"}, ...v.misclassified_images.map(m =>
        tile(picture(bytes(m.image), H, W, "image"), `as ${D.classes[m.pred]}`, classLink(m.pred))))));
    view.append(section("Grad-CAM of the misclassified examples in the report's figure (for the predicted class)", el("div", {class: "grid"},
      ...(v.misclassified.length ? v.misclassified.flatMap(m => [
        tile(picture(bytes(m.image), H, W, "image"), `image ${m.index}`),
        ...D.layers.map(l => tile(picture(bytes(m.gradcam[l]), H, W, "heat"), `${l}: as ${D.classes[m.pred]}`, classLink(m.pred)))])
        : [el("p", {class: "muted", text: "none among the examples shown"})]))));
  }

  // The overview's grid: each feature's first optimised input, of the trained model or (slider) of a vis epoch.
  function overviewGrid() {
    const grid = document.getElementById("features"), layers = el("div", {});
    const stops = T ? T.vis_epochs.length : 0, slider = el("input", {type: "range", id: "grid-epoch", min: 0, max: stops, step: 1, value: stops, "aria-label": "epoch of the grid"});
    const label = el("output", {id: "grid-epoch-label", for: "grid-epoch"});
    function draw() {
      const v = +slider.value, trained = v === stops;
      label.textContent = trained ? "the trained model (best epoch)" : `epoch ${T.vis_epochs[v]}`;
      layers.replaceChildren(...D.layers.flatMap(layer => [el("h3", {text: layer}), el("div", {class: "grid"}, ...D.features[layer].map((f, i) =>
        tile(picture(bytes(trained ? f.vis[0] : T.features[layer][i].vis[v]), H, W, "image", 0, 2), `${layer} ${i + 1}`, featureLink(layer, i + 1))))]));
    }
    if (stops) {
      slider.addEventListener("input", draw);
      grid.append(el("p", {}, "Optimised inputs of ", slider, " ", label));
    }
    grid.append(layers);
    draw();
    document.getElementById("classes").append(el("div", {class: "grid"}, ...D.classes.map((name, c) =>
      tile(picture(classInputs, H, W, "image", c * PX, 2), name, classLink(c)))));
  }

  // #draw: draw with a mouse, a finger or a pen; on every stroke the page prepares the drawing as
  // `featuremaps image` does and runs the trained network on it: class probabilities, the input as
  // the model sees it, every conv layer's maps (each linked to its feature) and the last layer's
  // Grad-CAM for the predicted class.
  function showDraw() {
    const view = document.getElementById("view"), side = 280;
    const pad = el("canvas", {id: "pad", width: side, height: side, tabindex: 0, "aria-label": "drawing area",
                              style: "background:#000;touch-action:none;border:1px solid #888;max-width:100%"});
    const ctx = pad.getContext("2d"), strokes = [];
    const width = el("input", {type: "range", id: "stroke", min: 4, max: 40, value: 18, "aria-label": "stroke width"});
    const undo = el("button", {id: "undo", text: "undo"}), clear = el("button", {id: "clear", text: "clear"});
    const out = el("div", {id: "draw-out"});
    function paint() {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, side, side);
      ctx.strokeStyle = "#fff"; ctx.lineCap = ctx.lineJoin = "round";
      for (const s of strokes) {
        ctx.lineWidth = s.width; ctx.beginPath();
        s.points.forEach(([x, y], i) => i ? ctx.lineTo(x, y) : ctx.moveTo(x, y));
        if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
        ctx.stroke();
      }
    }
    function update() {
      const rgba = ctx.getImageData(0, 0, side, side).data, grey = new Uint8Array(side * side);
      for (let i = 0; i < grey.length; i++) grey[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
      const digit = Prep.digit(grey, side, side, [H, W], 4);
      const input = C > 1 ? Uint8Array.from({length: H * W * C}, (_, i) => digit[Math.floor(i / C)]) : digit, r = Net.gradcam(input, 0);
      const probs = Array.from(r.logits, v => Math.exp(v - Math.max(...r.logits))), total = probs.reduce((a, b) => a + b, 0);
      const pred = probs.indexOf(Math.max(...probs)), cam = Net.gradcam(input, pred);
      const camTop = Math.max(1e-12, ...cam.cam), camBytes = Uint8Array.from(cam.cam, v => Math.round(255 * v / camTop));
      out.replaceChildren(
        el("p", {id: "prediction", text: `predicted: ${D.classes[pred]} (${(100 * probs[pred] / total).toFixed(1)} %)`}),
        el("table", {}, ...D.classes.map((name, c) => el("tr", {}, el("th", {text: name}),
          el("td", {}, el("span", {class: "bar", style: `width:${Math.round(160 * probs[c] / total)}px`})),
          el("td", {text: `${(100 * probs[c] / total).toFixed(1)} %`})))),
        section("The input as the model sees it, and Grad-CAM of " + D.layers[D.layers.length - 1],
          el("div", {class: "grid"}, tile(picture(input, H, W, "image"), "input"),
             tile(picture(camBytes, cam.h, cam.w, "heat", 0, Math.max(2, Math.round(84 / cam.h))), `for ${D.classes[pred]}`))),
        ...Object.entries(r.maps).map(([layer, m]) => {
          const F = Net.config.conv_channels[+layer.slice(4) - 1], hw = m.length / F, mh = Math.round(Math.sqrt(hw * H / W)), mw = hw / mh;
          const top = Math.max(1e-12, ...m.map(v => Math.max(0, v)));
          return section(`${layer} maps (ReLU, one scale up to ${top.toPrecision(3)})`, el("div", {class: "grid"},
            ...Array.from({length: F}, (_, f) => tile(picture(Uint8Array.from(m.subarray(f * hw, (f + 1) * hw), v => Math.round(255 * Math.max(0, v) / top)),
              mh, mw, "heat", 0, Math.max(2, Math.round(56 / mh))), `${f + 1}`, D.features[layer] ? featureLink(layer, f + 1) : null))));
        }));
    }
    let drawing = null;
    const at = e => { const b = pad.getBoundingClientRect(); return [(e.clientX - b.left) * side / b.width, (e.clientY - b.top) * side / b.height]; };
    pad.addEventListener("pointerdown", e => { pad.setPointerCapture(e.pointerId); drawing = {width: +width.value, points: [at(e)]}; strokes.push(drawing); paint(); });
    pad.addEventListener("pointermove", e => { if (drawing) { drawing.points.push(at(e)); paint(); } });
    const end = () => { if (drawing) { drawing = null; update(); } };
    pad.addEventListener("pointerup", end); pad.addEventListener("pointercancel", end);
    undo.addEventListener("click", () => { strokes.pop(); paint(); update(); });
    clear.addEventListener("click", () => { strokes.length = 0; paint(); update(); });
    view.replaceChildren(el("p", {class: "viewnav"}, el("a", {href: "#", text: "\u2190 overview"})),
      el("h2", {text: "Draw a digit"}),
      el("p", {class: "muted", text: C > 1 ? "This network takes colour images; drawing here is grey only." : "Draw with a mouse, a finger or a pen; the network runs in this page on every stroke."}),
      el("div", {class: "wrap"}, pad), el("p", {}, "stroke width ", width, " ", undo, " ", clear), out);
    paint(); update();
  }

  let current = null;
  function route() {
    const m = location.hash.match(/^#([^/]+)\/(\d+)$/), view = document.getElementById("view");
    const overview = document.getElementById("overview");
    current = null;
    if (location.hash === "#draw" && Net) showDraw();
    else if (m && m[1] === "class" && +m[2] < D.classes.length) showClass(+m[2]);
    else if (m && D.features[m[1]] && +m[2] >= 1 && +m[2] <= D.features[m[1]].length) { current = [m[1], +m[2]]; showFeature(m[1], +m[2]); }
    else { view.hidden = true; overview.hidden = false; return; }
    view.hidden = false; overview.hidden = true; window.scrollTo(0, 0);
  }
  document.addEventListener("keydown", e => {
    if (!current || !["ArrowLeft", "ArrowRight"].includes(e.key) || e.target.tagName === "INPUT") return;  // a slider's own keys
    const link = document.querySelectorAll("#view .viewnav a")[e.key === "ArrowLeft" ? 1 : 2];
    location.hash = link.getAttribute("href");
  });
  overviewGrid();
  window.addEventListener("hashchange", route);
  route();
})();
