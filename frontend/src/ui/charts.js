// Utilization plots (uPlot, from npm): each [data-metrics] element draws a VM's or a host's counters
// over a range the user picks. The server chooses the resolution (raw samples, minutes or hours).
(function () {
  'use strict';
  const RANGES = [['1 hour', 3600], ['6 hours', 21600], ['24 hours', 86400], ['7 days', 604800], ['30 days', 2592000]];
  const COLORS = ['#1f5fbf', '#d9730d', '#2e7d32', '#8e24aa', '#c62828', '#00838f'];
  const MIB = 1024 * 1024;
  const GIB = 1024 * MIB;

  const find = (data, name) => data.series.find(s => s.name === name);
  const matching = (data, re) => data.series.filter(s => re.test(s.name));

  // What to draw for a VM and for a host: charts of series, each scaled into the chart's unit.
  const CHARTS = {
    vm: (data) => [
      chart('CPU', 'cores', [find(data, 'cpu') && ['worker', find(data, 'cpu'), 1]]
        .concat(matching(data, /^vcpu\.\d+$/).map(s => ['vCPU ' + s.name.slice(5), s, 1]))),
      chart('Memory', 'MiB', [
        find(data, 'memory.resident') && ['worker resident', find(data, 'memory.resident'), 1 / MIB],
        find(data, 'memory.guest.total') && ['guest total', find(data, 'memory.guest.total'), 1 / MIB],
        find(data, 'memory.guest.available') && ['guest available', find(data, 'memory.guest.available'), 1 / MIB]]),
      chart('Disk', 'KiB/s', matching(data, /^disk\..*-bytes$/).map(s => [s.name.slice(5), s, 1 / 1024])),
      // Adapters on a virtual switch; the others are listed under "Not available" with the reason.
      chart('Network', 'KiB/s', matching(data, /^nic\..*-bytes$/).map(s => [s.name.slice(4).replace('-bytes', ''), s, 1 / 1024]))],
    host: (data) => [
      chart('CPU', 'cores', [find(data, 'cpu') && ['busy', find(data, 'cpu'), 1]]),
      chart('Load', '', ['load.1', 'load.5', 'load.15'].map(n => find(data, n) && [n.replace('load.', '') + ' min', find(data, n), 1])),
      chart('Memory', 'GiB', [find(data, 'memory.used') && ['used', find(data, 'memory.used'), 1 / GIB],
        find(data, 'memory.total') && ['total', find(data, 'memory.total'), 1 / GIB]]),
      chart('Storage', 'GiB', [find(data, 'storage.free') && ['free', find(data, 'storage.free'), 1 / GIB],
        find(data, 'storage.total') && ['total', find(data, 'storage.total'), 1 / GIB]])]
  };

  function chart(title, unit, lines) {
    return { title, unit, lines: lines.filter(Boolean).filter(l => l[1].points.length) };
  }

  function init(el) {
    if (el.dataset.ready) { return; }
    el.dataset.ready = 'yes';
    const bar = document.createElement('div');
    bar.className = 'ranges';
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'Time range');
    const area = document.createElement('div');
    area.className = 'charts';
    const status = document.createElement('p');
    status.className = 'muted small';
    status.setAttribute('role', 'status');
    RANGES.forEach(([label, seconds], i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.setAttribute('aria-pressed', String(i === 0));
      b.addEventListener('click', () => {
        bar.querySelectorAll('button').forEach(x => x.setAttribute('aria-pressed', String(x === b)));
        load(seconds);
      });
      bar.appendChild(b);
    });
    el.append(bar, area, status);

    async function load(seconds) {
      const to = new Date();
      const from = new Date(to.getTime() - seconds * 1000);
      status.textContent = 'Loading…';
      let response;
      try {
        response = await fetch(el.dataset.metrics + '?from=' + from.toISOString() + '&to=' + to.toISOString());
      } catch (e) {
        status.textContent = 'The server cannot be reached.';
        return;
      }
      if (!response.ok) {
        status.textContent = 'The counters could not be read (' + response.status + ').';
        return;
      }
      draw(await response.json(), from.getTime() / 1000, to.getTime() / 1000);
    }

    function draw(data, from, to) {
      area.replaceChildren();
      const charts = CHARTS[el.dataset.kind](data).filter(c => c.lines.length);
      const missing = (data.unavailable || []).map(u => u.name + ': ' + u.reason).join('; ');
      if (!charts.length) {
        status.textContent = 'No samples in this window yet: counters are sampled while the VM runs.' + (missing ? ' ' + missing : '');
        return;
      }
      status.textContent = 'One point per ' + data.step.replace('PT', '').toLowerCase() + ' (' + data.resolution + ')'
        + (missing ? '. Not available: ' + missing : '');
      charts.forEach(c => plot(area, c, from, to));
    }
    load(RANGES[0][1]);
  }

  // The x axis spans the window the user chose, however few samples fall in it (uPlot would otherwise stretch
  // one sample over years).
  function plot(area, c, from, to) {
    const xs = [...new Set(c.lines.flatMap(l => l[1].points.map(p => Date.parse(p.at) / 1000)))].sort((a, b) => a - b);
    const ys = c.lines.map(([, s, scale]) => {
      const byTime = new Map(s.points.map(p => [Date.parse(p.at) / 1000, p.avg * scale]));
      return xs.map(x => (byTime.has(x) ? byTime.get(x) : null));
    });
    const box = document.createElement('figure');
    box.className = 'chart';
    const last = ys.map((y, i) => c.lines[i][0] + ' ' + fmt(y.filter(v => v !== null).pop())).join(', ');
    box.setAttribute('aria-label', c.title + (c.unit ? ' (' + c.unit + ')' : '') + ', latest: ' + last);
    area.appendChild(box);
    const width = Math.max(260, Math.min(area.clientWidth || 480, 640));
    // eslint-disable-next-line no-undef
    new uPlot({
      title: c.title + (c.unit ? ' (' + c.unit + ')' : ''),
      width,
      height: 170,
      scales: { x: { time: true, range: () => [from, to] } },
      series: [{}].concat(c.lines.map(([label], i) => ({
        label, stroke: COLORS[i % COLORS.length], width: 1.5, value: (u, v) => fmt(v)
      }))),
      axes: [{}, { size: 48 }]
    }, [xs].concat(ys), box);
  }

  function fmt(v) {
    if (v === null || v === undefined) { return '—'; }
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
  }

  const start = () => document.querySelectorAll('[data-metrics]').forEach(init);
  document.addEventListener('DOMContentLoaded', start);
  document.addEventListener('htmx:afterSwap', start);
})();
