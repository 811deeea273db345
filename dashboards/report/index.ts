// The offline HTML report: data in, one self-contained HTML string out.
export { renderReport, CSP, type ReportData } from './render.js';
export { renderGraph, type GraphHop } from './graph.js';
export { esc } from './escape.js';
