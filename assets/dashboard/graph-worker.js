// baton dashboard: lays out the dependency graph with dagre (vendor/dagre.min.js), left to right.
// Runs as a Web Worker (the page stays responsive while a large graph is laid out); loaded with a
// <script> tag instead it only defines self.batonLayout, the page's fallback when Workers fail.
// Message in:  {seq, ids: [id], edges: [[from, to]], node: {w, h}}
// Message out: {seq, ok, ids, edges, pos: {id: [x, y]} (node centres), points: [[[x, y], …] per edge],
//               width, height, ms} or {seq, ok: false, error}
'use strict';
(() => {
  function layout(msg) {
    const t0 = Date.now();
    const g = new self.dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 56, edgesep: 8, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const id of msg.ids) g.setNode(id, { width: msg.node.w, height: msg.node.h });
    for (const [v, w] of msg.edges) g.setEdge(v, w);
    self.dagre.layout(g);
    const r = (v) => Math.round(v * 10) / 10;
    const pos = {};
    for (const id of msg.ids) {
      const n = g.node(id);
      pos[id] = [r(n.x), r(n.y)];
    }
    const points = msg.edges.map(([v, w]) => {
      const e = g.edge(v, w);
      return e && Array.isArray(e.points) ? e.points.map((p) => [r(p.x), r(p.y)]) : [];
    });
    const gg = g.graph();
    return { seq: msg.seq, ok: true, ids: msg.ids, edges: msg.edges, pos, points, width: gg.width || 0, height: gg.height || 0, ms: Date.now() - t0 };
  }

  const inWorker = typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope;
  if (!inWorker) {
    self.batonLayout = layout;
    return;
  }
  self.importScripts('vendor/dagre.min.js');
  self.onmessage = (e) => {
    const msg = e.data || {};
    try {
      self.postMessage(layout(msg));
    } catch (err) {
      self.postMessage({ seq: msg.seq, ok: false, error: String(err && err.message ? err.message : err) });
    }
  };
})();
