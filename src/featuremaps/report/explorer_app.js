
(() => {
  const D = window.FEATUREMAPS;/*@helpers.js@*//*@graph.js@*//*@network.js@*//*@prepare.js@*/
  // What a view needs beyond explorer.js is in scripts beside the page (fetch cannot read file://),
  // each loaded once, the first time it is needed: pending[src] is its promise until it has run.
  const pending = {};
  function loaded(src, done) {
    if (done()) return Promise.resolve();
    return pending[src] = pending[src] || new Promise((resolve, reject) => {
      const script = el("script", {src});
      script.onload = () => done() ? resolve() : reject(new Error(`${src} holds no data for this page: rerun the render stage`));
      script.onerror = () => { delete pending[src]; script.remove();
        reject(new Error(`could not load ${src} (beside this page): \`dvc pull\` it, or rerun the render stage (dvc repro)`)); };
      document.head.append(script);
    });
  }
  // The draw view's network: its weights, loaded the first time the view opens.
  const drawable = !!D.network && JSON.parse(D.network.config).draw !== false;
  window.FEATUREMAPS_NETWORK = tensors => { D.network.tensors = tensors; Net = buildNet(); };
  const loadNet = () => drawable ? loaded(D.network.script, () => Net).then(() => Net) : Promise.resolve(null);
  window.featuremapsNet = {ready: loadNet, Prep};  // the hook tests drive the page's network through
  const featureLink = (layer, n) => `#${layer}/${n}`;
  const classLink = c => `#class/${c}`;
  const classInputs = bytes(D.class_inputs), exampleInputs = bytes(D.example_inputs);
  const T = D.timelapse, probeImages = T ? bytes(T.probe_images) : null;
  const camMaps = D.gradcam_map === "rectified" ? "of each layer's maps after ReLU" : "of each layer's maps before pooling and ReLU";
  const section = (title, ...kids) => el("section", {}, el("h3", {text: title}), ...kids);

  // A layer's feature views beyond the overview's (optimised inputs, top images, maps, histograms) are
  // in its own script, explorer/layer/<layer>.js, loaded the first time one of its features is opened.
  window.FEATUREMAPS_LAYER = (layer, views) => {
    views.forEach((v, i) => Object.assign(D.features[layer][i], v));
    D.features[layer].loaded = true;
  };
  const loadLayer = layer => loaded(D.layer_scripts[layer], () => D.features[layer].loaded);
  // The kernels of a feature, one tile per input channel drawn (every one, or its strongest: then labelled
  // with their channel); `offset`: the first value of this epoch's kernels.
  function kernelTiles(filter, data, offset = 0) {
    const [m, kh, kw] = filter.shape, px = Math.max(4, Math.round(30 / Math.max(kh, kw)));
    return Array.from({length: m}, (_, i) => tile(picture(data, kh, kw, "div", offset + i * kh * kw, px),
      filter.inputs ? `in ${filter.inputs[i] + 1}` : m > 1 ? `in ${i + 1}` : "filter"));
  }
  // A layer as the model's architecture record (model.pt, through extract) describes it.
  const entries = Object.fromEntries(((D.architecture || {}).layers || []).map(e => [e.name, e]));
  const pair = v => v[0] === v[1] ? `${v[0]}` : `${v[0]}x${v[1]}`;
  function layerWords(layer) {
    const e = entries[layer];
    if (!e) return "";
    const [c, h, w] = e.shape, geometry = e.kernel ? [`kernel ${e.kernel[0]}x${e.kernel[1]}`, `stride ${pair(e.stride)}`,
      ...(e.padding ? [`padding ${pair(e.padding)}`] : []), ...(e.dilation && Math.max(...e.dilation) > 1 ? [`dilation ${pair(e.dilation)}`] : []),
      ...(e.groups > 1 ? [e.groups === c ? "depthwise" : `${e.groups} groups`] : [])] : [];
    return `${e.kind}: ${c} maps of ${h}x${w}` + (geometry.length ? `, ${geometry.join(", ")}` : "") + ` (${D.architecture.family})`;
  }
  const inputsWords = f => f.inputs ? `its ${f.shape[0]} strongest of ${f.in_channels} input channels (largest L2 norm)` :
    `${f.shape[0]} input channel${f.shape[0] > 1 ? "s" : ""}`;

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
      el("h2", {text: `${layer} \u00b7 feature ${n}`}), el("p", {class: "muted layer-words", text: layerWords(layer)}));
    const vis = f.vis.map((s, i) => tile(picture(bytes(s), H, W, "image"), i < f.vis.length - 1 ? `seed ${i + 1}` : "refined",
                                       null, f.vis_ratio[i] === null ? "" : `x${f.vis_ratio[i].toFixed(1)}` + (f.vis_ratio[i] < 1 ? " below" : "")));
    if (f.negative) vis.push(tile(picture(bytes(f.negative), H, W, "image"), "minimises it", null, f.negative_value.toPrecision(2)));
    const below = f.vis_ratio.slice(0, -1).filter(r => r !== null && r < 1).length;
    view.append(section("What it looks for: inputs that maximise it" + (f.negative ? ", and one that minimises it" : ""), el("div", {class: "grid"}, ...vis),
      el("p", {class: "muted", text: `xN: its ${D.activation} activation relative to the best ${D.split} image's` +
        (below ? `; ${below} seed${below > 1 ? "s" : ""} ended below the best image (a local maximum).` : "; every seed reached at least the best image.") +
        (f.negative ? " The last minimises its raw (pre-ReLU) value, shown on it." : "") +
        (f.optimum ? ` Its centre unit's exact maximum is ${f.optimum[0].toPrecision(4)}; gradient ascent on that unit reaches ${f.optimum[1].toPrecision(4)}.` : "")})));
    view.append(section(`Top ${D.split} images (by ${D.top_k_by === "max" ? "strongest unit" : "summed activation"}; box: what the strongest unit sees)`,
      el("div", {class: "grid"}, ...f.top.map(t => { const px = bytes(t.image);
        return editable(tile(picture(px, H, W, "image"), t.label, null, "", t.box), px, t.label); }))));
    if (T) view.append(formation(layer, n));
    if (f.filter) {
      const [, kh, kw] = f.filter.shape;
      view.append(section(`Filter (${kh}x${kw}, ${inputsWords(f.filter)}; red +, blue \u2212, up to \u00b1${f.filter.scale.toPrecision(3)})`,
        el("div", {class: "grid"}, ...kernelTiles(f.filter, bytes(f.filter.data)))));
    }
    const [mh, mw] = f.class_means.shape, means = bytes(f.class_means.data), px = Math.max(2, Math.round(84 / mh));
    view.append(section(`Mean map per class over the ${D.split} split (one scale, up to ${f.class_means.max.toPrecision(3)}), beside the class's mean input`,
      el("div", {class: "grid"}, ...D.classes.flatMap((name, c) => [
        tile(picture(classInputs, H, W, "image", c * PX, 2), "", null),
        tile(picture(means, mh, mw, "heat", c * mh * mw, px * 2 / 3), name, classLink(c))]))));
    const maps = bytes(f.examples.data);
    view.append(section(`Its map for one ${D.split} image per class (one scale, up to ${f.examples.max.toPrecision(3)})`,
      el("div", {class: "grid"}, ...D.classes.flatMap((name, c) => D.example_present[c] ? [
        editable(tile(picture(exampleInputs, H, W, "image", c * PX, 2), ""), exampleInputs.subarray(c * PX, (c + 1) * PX), name),
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
  function formation(layer, n) {
    const t = T.features[layer][n - 1], kernels = t.filter ? bytes(t.filter.data) : null, last = T.epochs.length - 1;
    const perEpoch = t.filter ? t.filter.shape.reduce((a, b) => a * b, 1) : 0;
    const slider = el("input", {type: "range", id: "epoch", min: 0, max: last, step: 1, value: T.epochs.indexOf(T.reference) >= 0 ? T.epochs.indexOf(T.reference) : last,
                                "aria-label": "epoch"});
    const label = el("output", {id: "epoch-label", for: "epoch"}), body = el("div", {id: "formation"});
    function draw() {
      const i = +slider.value, epoch = T.epochs[i];
      const v = T.vis_epochs.reduce((best, e, k) => e <= epoch ? k : best, -1);
      label.textContent = `epoch ${epoch}` + (epoch === T.reference ? " (best: the model shown elsewhere)" : "") +
        `; ${layer} CKA to the best epoch ${T.cka[layer][i] === null ? "undefined (constant maps)" : T.cka[layer][i].toFixed(3)}`;
      const seeds = v < 0 ? [] : Array.from({length: T.seeds}, (_, s) => tile(picture(bytes(t.vis[v]), H, W, "image", s * PX), `epoch ${T.vis_epochs[v]}`));
      body.replaceChildren(
        el("p", {class: "muted", text: (t.filter ? `Filter (one scale for every epoch, up to \u00b1${t.filter.scale.toPrecision(3)}) and ` : "") +
          (v < 0 ? "no optimised input up to this epoch" : `the optimised input${T.seeds > 1 ? "s" : ""} of epoch ${T.vis_epochs[v]}`)}),
        el("div", {class: "grid"}, ...(t.filter ? kernelTiles(t.filter, kernels, i * perEpoch) : []), ...seeds),
        el("p", {text: t.dead[i] ? "Dead: zero on every probe image at this epoch." :
          `Class selectivity ${t.selectivity[i].toFixed(3)}, most for ${D.classes[t.preferred[i]]}. Its top ${t.top[i].length} of the ${T.probe_count} probe images (val):`}),
        el("div", {class: "grid"}, ...t.top[i].map(k => editable(tile(picture(probeImages, H, W, "image", k * PX), D.classes[T.probe_labels[k]]),
          probeImages.subarray(k * PX, (k + 1) * PX), D.classes[T.probe_labels[k]]))));
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
    view.append(section(`Mean input and mean Grad-CAM for ${name} over ${v.count} ${D.attribution_split} images (${camMaps})`, el("div", {class: "grid"},
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
        editable(tile(picture(bytes(m.image), H, W, "image"), `as ${D.classes[m.pred]}`, classLink(m.pred)), bytes(m.image), name)))));
    view.append(section("Grad-CAM of the misclassified examples in the report's figure (for the predicted class)", el("div", {class: "grid"},
      ...(v.misclassified.length ? v.misclassified.flatMap(m => [
        tile(picture(bytes(m.image), H, W, "image"), `image ${m.index}`),
        ...D.layers.map(l => tile(picture(bytes(m.gradcam[l]), H, W, "heat"), `${l}: as ${D.classes[m.pred]}`, classLink(m.pred)))])
        : [el("p", {class: "muted", text: "none among the examples shown"})]))));
  }

  // The overview's grid: each feature's first optimised input, of the trained model or (slider) of a vis epoch.
  // A first layer's optimised input says little: the mean of its map is highest for a flat image
  // whenever its filter's weights share one sign. The filter itself is what informs there.
  const FIRST_LAYER_NOTE = "Each feature's filter (red +, blue \u2212; its own scale): the input that maximises a first-layer " +
    "map's mean is a flat field whenever the filter's weights share one sign, so the filter says more. Each feature's view " +
    "has its optimised inputs and the exact optimum of its centre unit.";
  const filterFirst = (layer, f) => layer === D.layers[0] && C === 1 && f.filter && f.filter.shape[0] === 1;
  function overviewPicture(layer, f, i, trained, v) {
    if (!filterFirst(layer, f)) return picture(bytes(trained ? f.thumb : T.features[layer][i].vis[v]), H, W, "image", 0, 2);
    const [, kh, kw] = f.filter.shape, px = Math.max(2, Math.round(2 * H / kh));
    if (trained) return picture(bytes(f.filter.data), kh, kw, "div", 0, px);
    const t = T.features[layer][i];  // that epoch's filter, on the timelapse's one scale
    return picture(bytes(t.filter.data), kh, kw, "div", T.epochs.indexOf(T.vis_epochs[v]) * kh * kw, px);
  }
  function overviewGrid() {
    const grid = document.getElementById("features"), layers = el("div", {});
    const stops = T ? T.vis_epochs.length : 0, slider = el("input", {type: "range", id: "grid-epoch", min: 0, max: stops, step: 1, value: stops, "aria-label": "epoch of the grid"});
    const label = el("output", {id: "grid-epoch-label", for: "grid-epoch"});
    function draw() {
      const v = +slider.value, trained = v === stops;
      label.textContent = trained ? "the trained model (best epoch)" : `epoch ${T.vis_epochs[v]}`;
      layers.replaceChildren(...D.layers.flatMap(layer => [el("h3", {text: layer}), el("p", {class: "muted layer-words", text: layerWords(layer)}),
        ...(filterFirst(layer, D.features[layer][0]) ? [el("p", {class: "muted", text: FIRST_LAYER_NOTE})] : []),
        el("div", {class: "grid"}, ...D.features[layer].map((f, i) =>
          tile(overviewPicture(layer, f, i, trained, v), `${layer} ${i + 1}`, featureLink(layer, i + 1))))]));
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

  // #draw: draw with a mouse, a finger or a pen, or edit a dataset image ("edit this one"); on
  // every stroke the page prepares the pad as `featuremaps image` does (a grey drawing is fitted like
  // a digit; an edited image or a colour drawing is the mean of each pad block) and runs the trained
  // network on it: class probabilities, the input as the model sees it, the last conv layer's
  // Grad-CAM (the predicted class or a chosen one) and every conv layer's maps, each linked to its feature.
  let editSource = null;  // {pixels, label} of the image an "edit this one" button chose
  function editable(t, pixels, label) {
    if (!drawable) return t;
    const b = el("button", {class: "edit", text: "edit this one", "aria-label": `edit this ${label} image in the draw view`});
    b.addEventListener("click", () => { editSource = {pixels: Uint8Array.from(pixels), label}; location.hash = "#draw"; });
    t.append(b);
    return t;
  }
  // The layers the draw view shows, with their map shapes, and the one its Grad-CAM weighs: every conv
  // layer of the builtin network and its last; another model's extracted layers and its deepest.
  function drawLayers(cfg) {
    const names = cfg.graph ? D.layers : cfg.conv_channels.map((_, b) => `conv${b + 1}`);
    return {names, shapes: names.map(l => entries[l].shape), cam: cfg.graph ? cfg.gradcam_layer : names[names.length - 1]};
  }

  function showDraw() {
    const view = document.getElementById("view");
    if (!Net) view.replaceChildren(el("p", {class: "muted", text: "loading the network\u2026"}));
    loadNet().then(() => { if (location.hash === "#draw") drawView(); },
                   e => view.replaceChildren(el("p", {class: "route-note", role: "status", text: e.message})));
  }
  function drawView() {
    const view = document.getElementById("view"), s = Math.max(1, Math.floor(280 / Math.max(H, W))), ph = H * s, pw = W * s;
    const base = editSource; editSource = null;
    const fitted = !base && C === 1;  // a grey drawing from scratch is fitted as featuremaps image fits a digit
    const pad = el("canvas", {id: "pad", width: pw, height: ph, tabindex: 0, "aria-label": "drawing pad",
                              style: `width:${pw}px;max-width:100%;height:auto;background:#000;touch-action:none;border:1px solid #888`});
    const ctx = pad.getContext("2d", {willReadFrequently: true}), strokes = [];
    const baseCanvas = base ? picture(base.pixels, H, W, "image") : null;
    const width = el("input", {type: "range", id: "stroke", min: Math.max(1, Math.round(s / 2)), max: 4 * s, value: Math.round(1.8 * s), "aria-label": "stroke width"});
    const colour = el("input", {type: "color", id: "brush-colour", value: "#ffffff", "aria-label": "brush colour"});
    const erase = el("button", {id: "erase", text: "erase", "aria-pressed": "false"});
    const undo = el("button", {id: "undo", text: "undo"}), clear = el("button", {id: "clear", text: "clear"});
    const camClass = el("select", {id: "cam-class", "aria-label": "Grad-CAM for class"},
      el("option", {value: -1, text: "the predicted class"}), ...D.classes.map((name, c) => el("option", {value: c, text: name})));
    erase.addEventListener("click", () => erase.setAttribute("aria-pressed", erase.getAttribute("aria-pressed") === "true" ? "false" : "true"));

    // The output is built once; each update repaints its canvases and rewrites its numbers.
    const shown = drawLayers(Net.config), [, ch, cw] = entries[shown.cam].shape;
    const prediction = el("p", {id: "prediction"}), camTitle = el("span", {});
    const rows = D.classes.map(name => ({bar: el("span", {class: "bar"}), pct: el("td", {}), name}));
    const inputCanvas = picture(new Uint8Array(H * W * C), H, W, "image"), camCanvas = picture(new Uint8Array(ch * cw), ch, cw, "heat", 0, Math.max(2, Math.round(84 / ch)));
    inputCanvas.id = "draw-input"; camCanvas.id = "draw-cam";
    const layerViews = shown.shapes.map(([F, mh, mw], b) => {
      const layer = shown.names[b], title = el("h3", {}), linked = !!D.features[layer];
      const canvases = Array.from({length: F}, () => picture(new Uint8Array(mh * mw), mh, mw, "heat", 0, Math.max(2, Math.round(56 / mh))));
      return {layer, F, hw: mh * mw, title, canvases, bytes: new Uint8Array(F * mh * mw),
              node: el("section", {}, title, el("div", {class: "grid"}, ...canvases.map((c, f) => tile(c, `${f + 1}`, linked ? featureLink(layer, f + 1) : null))))};
    });
    const table = el("table", {}, ...rows.map(r => el("tr", {}, el("th", {text: r.name}), el("td", {}, r.bar), r.pct)));
    const camSection = el("section", {}, el("h3", {}, `The input as the model sees it, and Grad-CAM of ${shown.cam} (${Net.config.graph ? "of its maps as the layer gives them" : camMaps}) `, camTitle),
      el("div", {class: "grid"}, tile(inputCanvas, "input"), tile(camCanvas, "Grad-CAM")));
    const controls = el("div", {}, pad,
      el("p", {class: "controls"}, el("label", {}, "stroke width ", width), " ", ...(C > 1 ? [el("label", {}, "colour ", colour), " "] : []),
         erase, " ", undo, " ", clear),
      el("p", {class: "controls"}, el("label", {}, "Grad-CAM for ", camClass)));
    const out = el("div", {id: "draw-out"}, el("div", {class: "drawrow"}, controls, el("div", {}, prediction, table), camSection),
      ...layerViews.map(v => v.node));

    let drawing = null, frame = 0;
    function paint() {
      ctx.imageSmoothingEnabled = false;
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pw, ph);
      if (baseCanvas) ctx.drawImage(baseCanvas, 0, 0, pw, ph);
      ctx.lineCap = ctx.lineJoin = "round";
      for (const k of strokes) {
        ctx.strokeStyle = k.colour; ctx.lineWidth = k.width; ctx.beginPath();
        k.points.forEach(([x, y], i) => i ? ctx.lineTo(x, y) : ctx.moveTo(x, y));
        if (k.points.length === 1) ctx.lineTo(k.points[0][0] + 0.01, k.points[0][1]);
        ctx.stroke();
      }
    }
    // Live on every frame while the network runs within a frame (16 ms), else at the end of each stroke.
    const speed = el("p", {id: "draw-speed", class: "muted"});
    let live = true, fastest = Infinity;  // the fastest run so far: the first pays for the script's compilation
    function update() {
      const started = performance.now(), rgba = ctx.getImageData(0, 0, pw, ph).data;
      const input = fitted ? Prep.digit(Prep.grey(rgba), ph, pw, [H, W], D.network.margin) : Prep.blocks(rgba, H, W, s, C);
      const r = Net.forward(input, true), logits = r.logits, top = Math.max(...logits);
      const probs = Array.from(logits, v => Math.exp(v - top)), total = probs.reduce((a, b) => a + b, 0);
      const pred = probs.indexOf(1), target = +camClass.value < 0 ? pred : +camClass.value, cam = Net.gradcam(input, target, r, D.gradcam_map === "rectified").cam;
      prediction.textContent = `predicted: ${D.classes[pred]} (${(100 * probs[pred] / total).toFixed(1)} %)`;
      rows.forEach((row, c) => { row.bar.style.width = `${Math.round(160 * probs[c] / total)}px`; row.pct.textContent = `${(100 * probs[c] / total).toFixed(1)} %`; });
      repaint(inputCanvas, input, "image");
      let camTop = 0; for (const v of cam) camTop = Math.max(camTop, v);
      repaint(camCanvas, Uint8Array.from(cam, v => camTop > 0 ? Math.round(255 * v / camTop) : 0), "heat");
      camTitle.textContent = `for ${D.classes[target]}` + (camTop > 0 ? "" : " (zero everywhere)");
      for (const v of layerViews) {
        const m = r.maps[v.layer]; let mtop = 0;
        for (const x of m) mtop = Math.max(mtop, x);
        for (let i = 0; i < m.length; i++) v.bytes[i] = mtop > 0 ? Math.round(255 * Math.max(0, m[i]) / mtop) : 0;
        v.canvases.forEach((c, f) => repaint(c, v.bytes, "heat", f * v.hw));
        v.title.textContent = `${v.layer}: each feature's map, rectified, ${Net.config.graph ? "as the layer gives it" : "before pooling"} (one scale, up to ${mtop.toPrecision(3)}); open one for its view`;
      }
      const ms = performance.now() - started;
      fastest = Math.min(fastest, ms);
      live = fastest <= 16;
      speed.textContent = live ? `The network runs on every frame as you draw (${ms.toFixed(1)} ms a run).` :
        `The network runs at the end of each stroke (${ms.toFixed(0)} ms a run, longer than a 16 ms frame).`;
      out.dataset.shown = drawing ? "" : String(strokes.length);  // what tests wait for: every stroke shown
      return {input, logits, pred, target, cam};
    }
    const refresh = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; paint(); if (live || !drawing) update(); }); };
    const at = e => { const b = pad.getBoundingClientRect(); return [(e.clientX - b.left) * pw / b.width, (e.clientY - b.top) * ph / b.height]; };
    pad.addEventListener("pointerdown", e => {
      pad.setPointerCapture(e.pointerId);
      drawing = {width: +width.value, colour: erase.getAttribute("aria-pressed") === "true" ? "#000000" : C > 1 ? colour.value : "#ffffff", points: [at(e)]};
      strokes.push(drawing); refresh();
    });
    pad.addEventListener("pointermove", e => { if (drawing) { drawing.points.push(at(e)); refresh(); } });
    const end = () => { if (drawing) { drawing = null; refresh(); } };
    pad.addEventListener("pointerup", end); pad.addEventListener("pointercancel", end);
    undo.addEventListener("click", () => { strokes.pop(); refresh(); });
    clear.addEventListener("click", () => { strokes.length = 0; if (base) showDrawBlank(); else refresh(); });
    camClass.addEventListener("change", refresh);
    const about = base ? `Editing a dataset image of class ${base.label}: paint or erase on it. The network sees the mean of each ${s}x${s} block of the pad (the image is already in its frame; "clear" starts a blank pad).`
      : C > 1 ? `This network takes colour images: paint with any colour; the network sees the mean of each ${s}x${s} block of the pad. Dataset images open here with "edit this one".`
      : "Draw with a mouse, a finger or a pen. The drawing is prepared as featuremaps image prepares a file (cropped to the ink, fitted in a box, centred by its centre of mass); the network runs in this page on every stroke.";
    view.replaceChildren(el("p", {class: "viewnav"}, el("a", {href: "#", text: "\u2190 overview"})),
      el("h2", {text: base ? "Edit an image" : "Draw"}), el("p", {class: "muted", text: about}), speed,
      out);
    window.featuremapsNet.draw = {update};  // the hook the speed benchmark times
    paint(); update();
  }
  function showDrawBlank() { editSource = null; showDraw(); }

  let current = null;
  function route() {
    const m = location.hash.match(/^#([^/]+)\/(\d+)$/), view = document.getElementById("view");
    const overview = document.getElementById("overview");
    current = null;
    if (location.hash === "#draw" && drawable) showDraw();
    else if (m && m[1] === "class" && +m[2] < D.classes.length) showClass(+m[2]);
    else if (m && D.features[m[1]] && +m[2] >= 1 && +m[2] <= D.features[m[1]].length) {
      const [layer, n] = [m[1], +m[2]], asked = location.hash;
      current = [layer, n];
      if (!D.features[layer].loaded) view.replaceChildren(el("p", {class: "muted", text: `loading ${layer}\u2026`}));
      loadLayer(layer).then(() => { if (location.hash === asked) showFeature(layer, n); },
                            e => view.replaceChildren(el("p", {class: "route-note", role: "status", text: e.message})));
    }
    else { view.hidden = true; overview.hidden = false; routeNote(overview, false); return; }
    routeNote(overview, true);
    view.hidden = false; overview.hidden = true; window.scrollTo(0, 0);
  }
  // A link to a view this page does not have (another run's layer, a feature beyond the layer's
  // width, a mistyped address) says so above the overview instead of showing it silently.
  function routeNote(overview, shown) {
    let hash = location.hash;
    try { hash = decodeURIComponent(hash); } catch (e) { /* a malformed %-escape: shown as typed */ }
    const known = shown || hash === "" || hash === "#";
    let note = document.getElementById("route-note");
    if (known) { if (note) note.hidden = true; return; }
    if (!note) { note = el("p", {id: "route-note", class: "route-note", role: "status"}); overview.before(note); }
    const layers = D.layers.map(l => `${l} (features 1-${D.features[l].length})`).join(", ");
    note.textContent = `No view ${hash} in this report: its layers are ${layers}; classes 0-${D.classes.length - 1}` +
      `${drawable ? "; #draw" : ""}. Showing the overview.`;
    note.hidden = false;
  }
  document.addEventListener("keydown", e => {
    if (!current || !["ArrowLeft", "ArrowRight"].includes(e.key) || e.target.tagName === "INPUT") return;  // a slider's own keys
    const link = document.querySelectorAll("#view .viewnav a")[e.key === "ArrowLeft" ? 1 : 2];
    location.hash = link.getAttribute("href");
  });
  if (!drawable) {  // a model the page cannot run: say why where the draw view's link would be
    const link = document.getElementById("draw-link"), cfg = D.network ? JSON.parse(D.network.config) : {};
    if (link) link.textContent = `No draw view for this model: ${cfg.reason || "the page has no network to run"}.`;
  }
  overviewGrid();
  window.addEventListener("hashchange", route);
  route();
})();
