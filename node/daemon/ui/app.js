/* troupe inspector: the page's logic. One EventSource (/api/stream) feeds
 * the cluster and the actors' page; the other views poll while shown. Data
 * reaches the DOM only as text (textContent, Text nodes, attributes): ids
 * come from the cluster and are not trusted. */
'use strict';

(() => {
  const CHART_SPAN_MS = 5 * 60 * 1000;
  const STALE_MS = 3000;          // no update for this long: "stale"
  const RETRY_MS = 5000;          // reopen a stream the server refused
  const FILTER_DELAY_MS = 250;
  const LIST_MAX = 200;           // ids shown in one list before "and N more"
  const EVENTS_MAX = 500;          // event rows kept, newest first
  const LOG_MAX = 1000;            // log rows kept, newest last
  const VIEWS = ['cluster', 'actors', 'actor', 'topics', 'groups', 'events', 'log'];

  const state = {
    view: 'cluster',
    actorId: null,
    q: { sort: 'id', order: 'asc', filter: '', node: '', offset: 0, limit: 50 },
    paused: false,        // the Pause button
    connected: false,     // the stream is open and has sent an update
    streamFailed: false,  // it failed since the last update: retrying
    cluster: null,        // the last /api/cluster
    prev: null,           // the one before it, for rates
    samples: [],          // the detail's chart: {t, in, out}, 5 minutes
    dead: [],             // the dead letters' chart: {t, v: Map reason -> per s}
    deadColors: new Map(),  // reason -> colour index, once its total was > 0
    events: { last: 0, asked: 0, filter: '' },        // /api/events seen up to last
    log: { last: 0, asked: 0, level: 'info', follow: true },
    session: null,        // {name, role} of this tab's session, if any
  };
  const ui = window.troupeUI = { lastUpdate: 0, updates: 0 };

  /* ---- formatting ------------------------------------------------------ */

  const ints = new Intl.NumberFormat('en-US');
  const isNum = (x) => typeof x === 'number' && isFinite(x);
  const fmtInt = (n) => (isNum(n) ? ints.format(n) : '–');

  function fmtRate(x) {
    if (!isNum(x)) return '–';
    if (x === 0) return '0';
    return x < 10 ? x.toFixed(1) : ints.format(Math.round(x));
  }

  /* Three significant digits at most: 812 ns, 4.25 µs, 38.1 ms, 120 ms. */
  function fmtNs(ns) {
    if (!isNum(ns)) return '–';
    if (ns < 1e3) return Math.round(ns) + ' ns';
    const [v, unit] = ns < 1e6 ? [ns / 1e3, ' µs'] : ns < 1e9 ? [ns / 1e6, ' ms'] : [ns / 1e9, ' s'];
    return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + unit;
  }

  function fmtBytes(b) {
    if (!isNum(b)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    for (; b >= 1024 && i < units.length - 1; i++) b /= 1024;
    return (i && b < 10 ? b.toFixed(1) : Math.round(b)) + ' ' + units[i];
  }

  function fmtAge(ms) {
    if (!isNum(ms)) return '–';
    const s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (s < 60) return s + 's';
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    if (h < 24) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function fmtTime(ms) {
    const d = new Date(ms);
    if (!isNum(ms) || isNaN(d)) return '–';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  /* HH:MM:SS.mmm, local time. */
  function fmtClock(ms) {
    const d = new Date(ms);
    if (!isNum(ms) || isNaN(d)) return '–';
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  /* A round trip in µs: "130 µs", "1.43 ms"; '–' when unknown. */
  const fmtRtt = (us) => (isNum(us) ? fmtNs(us * 1000) : '–');

  /* logfmt fields as [key, value] pairs, in order: key=value, the value
   * plain or double-quoted with backslash escapes (\" and \\ undone, \xHH
   * kept as written so a control character stays visible). A word without
   * '=' is a key with a null value; an unterminated quote takes the rest. */
  function parseFields(s) {
    const out = [];
    let i = 0;
    const n = s.length;
    while (i < n) {
      while (i < n && s[i] === ' ') i++;
      if (i >= n) break;
      let k = '';
      while (i < n && s[i] !== '=' && s[i] !== ' ') k += s[i++];
      if (s[i] !== '=') { out.push([k, null]); continue; }
      i++;
      let v = '';
      if (s[i] === '"') {
        for (i++; i < n && s[i] !== '"'; i++) {
          if (s[i] === '\\' && i + 1 < n && (s[i + 1] === '"' || s[i + 1] === '\\')) i++;
          v += s[i];
        }
        i++;
      } else {
        while (i < n && s[i] !== ' ') v += s[i++];
      }
      out.push([k, v]);
    }
    return out;
  }

  /* ---- DOM helpers ----------------------------------------------------- */

  const $ = (sel) => document.querySelector(sel);

  /* An element; props: class, text, data (dataset), anything else an
   * attribute. Children may be nodes or strings (appended as text). */
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'data') {
        for (const [dk, dv] of Object.entries(v)) if (dv != null) e.dataset[dk] = dv;
      } else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  function setText(e, s) {
    if (e.textContent !== s) e.textContent = s;
  }

  /* data-NAME is the number v, or absent: a reused row keeps no stale value. */
  function setData(e, name, v) {
    if (isNum(v)) e.dataset[name] = v;
    else delete e.dataset[name];
  }

  /* A table cell with data-col; numbers get class num and data-value. */
  function cell(col, text, opts) {
    const o = opts || {};
    return h('td', { class: o.num ? 'num' : o.cls, data: { col, value: o.value } }, text);
  }

  const numCell = (col, v, fmt) => cell(col, (fmt || fmtInt)(v), { num: true, value: isNum(v) ? v : null });

  function actorLink(id) {
    if (id == null) return '–';
    return h('a', { href: '#actor/' + encodeURIComponent(id), title: id, text: id });
  }

  function emptyRow(cols, text) {
    return h('tr', { class: 'empty' }, h('td', { colspan: cols, text }));
  }

  /* ids as a list of links, at most LIST_MAX. */
  function fillIdList(ul, ids, link) {
    const items = ids.slice(0, LIST_MAX).map((id) => h('li', null, link(id)));
    const more = ids.length - LIST_MAX;
    if (more > 0) items.push(h('li', { class: 'muted', text: `and ${ints.format(more)} more` }));
    if (!ids.length) items.push(h('li', { class: 'muted', text: 'none' }));
    ul.replaceChildren(...items);
  }

  const stateClass = (s) => (['alive', 'suspect', 'dead', 'left'].includes(s) ? 's-' + s : 's-unknown');

  /* ---- network --------------------------------------------------------- */

  async function fetchJSON(url) {
    const r = await fetch(url, { cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { /* no JSON: the status says it */ }
    if (!r.ok) {
      const err = new Error((body && body.error) || r.statusText || 'request failed');
      err.status = r.status;
      throw err;
    }
    return body;
  }

  function actorParams() {
    const q = state.q, p = new URLSearchParams();
    p.set('sort', q.sort);
    p.set('order', q.order);
    if (q.filter) p.set('filter', q.filter);
    if (q.node) p.set('node', q.node);
    p.set('offset', q.offset);
    p.set('limit', q.limit);
    return p.toString();
  }

  let stream = null, retryTimer = 0;
  const running = () => !state.paused && document.visibilityState !== 'hidden';

  function closeStream() {
    clearTimeout(retryTimer);
    if (stream) stream.close();
    stream = null;
    state.connected = false;
  }

  /* (Re)opens the stream with the actors' current parameters; the server
   * sends the first update on its own clock. */
  function openStream() {
    closeStream();
    if (!running()) return;
    const es = stream = new EventSource('/api/stream?' + actorParams());
    es.addEventListener('update', (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      state.connected = true;
      state.streamFailed = false;
      ui.lastUpdate = Date.now();
      ui.updates++;
      if (d.cluster) renderCluster(d.cluster);
      if (d.actors) renderActors(d.actors);
      showLive();
    });
    es.addEventListener('error', () => {
      state.connected = false;
      state.streamFailed = true;
      showLive();
      // EventSource retries by itself after a dropped connection, but not
      // after an HTTP error or a wrong content type: then we do.
      if (es.readyState === EventSource.CLOSED && stream === es)
        retryTimer = setTimeout(openStream, RETRY_MS);
    });
  }

  /* The actors' parameters changed: show the new page now, and reopen the
   * stream so its updates follow them. */
  let actorsSeq = 0;
  function actorsChanged() {
    const seq = ++actorsSeq;
    openStream();
    fetchJSON('/api/actors?' + actorParams())
      .then((a) => { if (seq === actorsSeq) { showError(null); renderActors(a); } })
      .catch(showError);
  }

  /* The views without a stream poll while shown: the detail every second,
   * the topics and groups every five. The next request goes out only
   * once the last one is answered. */
  const POLLS = {
    actor: {
      every: 1000,
      url: () => '/api/actor?id=' + encodeURIComponent(state.actorId),
      render: renderActor,
      fail: actorFailed,
    },
    topics: { every: 5000, url: () => '/api/topics', render: renderTopics },
    groups: { every: 5000, url: () => '/api/groups', render: renderGroups },
    // The lines after the last seen: only the new ones.
    events: {
      every: 1000,
      url: () => '/api/events?limit=1000&after=' + (state.events.asked = state.events.last),
      render: renderEvents,
    },
    log: {
      every: 1000,
      url: () => `/api/log?level=${state.log.level}&limit=1000&after=` + (state.log.asked = state.log.last),
      render: renderLog,
    },
  };
  let pollTimer = 0, pollToken = 0;

  function stopPolling() {
    pollToken++;
    clearTimeout(pollTimer);
  }

  function startPolling() {
    stopPolling();
    const job = POLLS[state.view];
    if (!job || !running()) return;
    const token = pollToken;
    const tick = () => {
      let every = job.every;
      fetchJSON(job.url())
        .then((d) => { if (token === pollToken) { showError(null); job.render(d); } })
        .catch((e) => {
          // An actor not found may come back, but asking every second
          // would only fill the console with the browser's 404 lines.
          if (e.status === 404) every = Math.max(every, 5000);
          if (token === pollToken) (job.fail || showError)(e);
        })
        .finally(() => { if (token === pollToken) pollTimer = setTimeout(tick, every); });
    };
    tick();
  }

  function showError(e) {
    const b = $('#error');
    b.hidden = !e;
    if (e) b.textContent = (e.status ? e.status + ': ' : '') + e.message;
  }

  /* ---- header ---------------------------------------------------------- */

  function showLive() {
    const live = $('#live');
    let s, text;
    const age = Date.now() - ui.lastUpdate;
    if (state.paused) [s, text] = ['paused', 'paused'];
    else if (document.visibilityState === 'hidden') [s, text] = ['paused', 'paused (tab hidden)'];
    else if (state.connected && age <= STALE_MS) [s, text] = ['live', `live · ${(age / 1000).toFixed(1)} s ago`];
    else if (state.connected) [s, text] = ['stale', `stale · ${Math.round(age / 1000)} s ago`];
    else if (state.streamFailed) [s, text] = ['disconnected', 'disconnected'];
    else [s, text] = ['connecting', 'connecting'];
    if (s === 'disconnected' && ui.lastUpdate) text += ` · ${Math.round(age / 1000)} s ago`;
    live.dataset.state = s;
    setText($('#live-text'), text);
  }

  function setPaused(paused) {
    state.paused = paused;
    const b = $('#pause');
    b.textContent = paused ? 'Resume' : 'Pause';
    b.setAttribute('aria-pressed', String(paused));
    if (paused) { closeStream(); stopPolling(); } else resume();
    showLive();
  }

  function resume() {
    state.prev = state.cluster = null;  // rates over the pause would mislead
    state.streamFailed = false;
    openStream();
    startPolling();
  }

  /* ---- cluster --------------------------------------------------------- */

  /* Per second, from the last answer's counter to this one's; null when
   * there is no last answer or the counter went back (a restart). */
  function rate(cur, old, dt) {
    if (!isNum(cur) || !isNum(old) || !(dt > 0) || cur < old) return null;
    return (cur - old) / dt;
  }

  function renderCluster(c) {
    state.prev = state.cluster;
    state.cluster = c;
    sampleDead();
    drawCluster();
  }

  /* Everything from state.cluster, with rates against state.prev. */
  function drawCluster() {
    const c = state.cluster, prev = state.prev;
    const dt = prev ? (c.time_ms - prev.time_ms) / 1000 : 0;
    const prevNodes = new Map(((prev && prev.nodes) || []).map((n) => [n.node, n]));
    const members = c.members || [], nodes = c.nodes || [];
    setText($('#node-name'), c.node || '–');
    renderMembers(members, nodes);
    renderNodes(nodes, prevNodes, dt);
    renderDead(nodes, prevNodes, dt);
    renderLinks(nodes, prevNodes, dt);
    renderCounters(nodes, prevNodes, dt);
    renderGraph(members, nodes);
  }

  /* rtt: the serving node's link to the member, as it measures it; health:
   * the member's own local_health counter (Lifeguard: 0 is healthy). */
  function renderMembers(members, nodes) {
    const self = members.find((m) => m.self);
    const byName = new Map(nodes.map((n) => [n.node, n]));
    const serving = self ? byName.get(self.name) : null;
    const links = new Map(((serving && serving.links) || []).map((l) => [l.peer, l]));
    const rttCell = (m) => {
      const l = m.self ? null : links.get(m.name);
      return numCell('rtt', l && l.up && isNum(l.rtt_us) ? l.rtt_us : null, fmtRtt);
    };
    // Who the member's certificate says it is, on the serving node's link.
    const certCell = (m) => {
      const l = m.self ? null : links.get(m.name);
      const text = l && l.cert_cn ? l.cert_cn + ' · ' + (l.cert_role || '?') : '–';
      return cell('cert', text, { cls: 'mono' });
    };
    const healthCell = (m) => {
      const v = ((byName.get(m.name) || {}).counters || {}).local_health;
      return h('td', { class: 'num' + (v === 0 ? ' ok' : isNum(v) ? ' warn' : ''),
        data: { col: 'health', value: isNum(v) ? v : null } }, v === 0 ? 'ok' : fmtInt(v));
    };
    $('#members tbody').replaceChildren(...members.map((m) =>
      h('tr', { data: { name: m.name }, class: m.self ? 'self' : null },
        cell('name', m.name),
        h('td', { data: { col: 'state', value: m.state } },
          h('span', { class: 'state ' + stateClass(m.state), text: m.state })),
        cell('addr', m.addr || '–', { cls: 'mono' }),
        cell('tags', Object.entries(m.tags || {}).map(([k, v]) => k + '=' + v).join(', ') || '–',
          { cls: 'mono' }),
        h('td', { class: 'mono', data: { col: 'epoch', value: m.epoch }, title: String(m.epoch) },
          fmtTime(m.epoch)),
        numCell('incarnation', m.incarnation),
        rttCell(m),
        healthCell(m),
        certCell(m),
        cell('self', m.self ? 'this node' : '', { cls: 'muted' }))));

    // The actors' node filter offers the members.
    const select = $('#node-filter');
    const names = members.map((m) => m.name);
    if ([...select.options].slice(1).map((o) => o.value).join('\n') !== names.join('\n')) {
      select.replaceChildren(h('option', { value: '', text: 'all nodes' }),
        ...names.map((n) => h('option', { value: n, text: n })));
      select.value = state.q.node;
    }
  }

  /* The sum of the dead_* counters: messages that went nowhere. */
  function deadLetters(counters) {
    return Object.keys(counters).filter((k) => k.startsWith('dead_') && isNum(counters[k]))
      .reduce((sum, k) => sum + counters[k], 0);
  }

  /* One row per node asked: its status and a few counters as rates. */
  function renderNodes(nodes, prevNodes, dt) {
    $('#nodes tbody').replaceChildren(...nodes.map((n) => {
      const k = n.counters || {}, o = (prevNodes.get(n.node) || {}).counters || {};
      const r = (name) => rate(k[name], o[name], dt);
      return h('tr', { data: { node: n.node } },
        cell('node', n.node),
        cell('status', n.status, { cls: n.status === 'ok' ? 'ok' : 'warn' }),
        numCell('actors', k.actors),
        numCell('sent_per_s', r('sent'), fmtRate),
        numCell('delivered_per_s', r('delivered'), fmtRate),
        numCell('remote_sent_per_s', r('remote_sent'), fmtRate),
        numCell('remote_received_per_s', r('remote_received'), fmtRate),
        numCell('dead', n.counters ? deadLetters(k) : null));
    }));
  }

  /* Dead letters by reason (the dead_* counters, "dead_" cut), summed over
   * the nodes that answered: totals, and rates where both updates have the
   * node's counter. */
  function deadByReason(nodes, prevNodes, dt) {
    const totals = new Map(), rates = new Map();
    for (const n of nodes) {
      const k = n.counters;
      if (!k) continue;
      const o = ((prevNodes && prevNodes.get(n.node)) || {}).counters || {};
      for (const name of Object.keys(k)) {
        if (!name.startsWith('dead_') || !isNum(k[name])) continue;
        const reason = name.slice(5);
        totals.set(reason, (totals.get(reason) || 0) + k[name]);
        const r = rate(k[name], o[name], dt);
        if (r != null) rates.set(reason, (rates.get(reason) || 0) + r);
      }
    }
    return { totals, rates };
  }

  /* One chart sample per update: each reason's rate. A reason gets a colour
   * (and a line) once its total is above zero. */
  function sampleDead() {
    const c = state.cluster, prev = state.prev, now = Date.now();
    const dt = prev ? (c.time_ms - prev.time_ms) / 1000 : 0;
    const prevNodes = new Map(((prev && prev.nodes) || []).map((n) => [n.node, n]));
    const { totals, rates } = deadByReason(c.nodes || [], prevNodes, dt);
    for (const [reason, total] of totals) {
      if (total > 0 && !state.deadColors.has(reason)) state.deadColors.set(reason, state.deadColors.size % 8);
    }
    const samples = state.dead;
    if (prev) samples.push({ t: now, v: rates });
    while (samples.length && samples[0].t < now - CHART_SPAN_MS) samples.shift();
  }

  function swatch(reason) {
    return h('span', { class: 'swatch c' + state.deadColors.get(reason) });
  }

  /* The card: a row per reason with dead letters, the chart of their rates. */
  function renderDead(nodes, prevNodes, dt) {
    const { totals, rates } = deadByReason(nodes, prevNodes, dt);
    const shown = [...totals].filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    $('#dead-letters tbody').replaceChildren(...shown.map(([reason, total]) =>
      h('tr', { data: { reason } },
        h('td', { data: { col: 'reason' } }, swatch(reason), reason),
        numCell('total', total),
        numCell('per_s', rates.has(reason) ? rates.get(reason) : null, fmtRate))));
    $('#dead-letters').hidden = !shown.length;
    $('#dead-none').hidden = shown.length > 0;
    const reasons = [...state.deadColors.keys()];
    $('#dead-chart-box').hidden = !reasons.length;
    if (!reasons.length) return;
    drawChart($('#dead-chart'), state.dead, Date.now(),
      reasons.map((r) => ({ cls: 'c' + state.deadColors.get(r), get: (s) => s.v.get(r) })));
    $('#dead-legend').replaceChildren(...reasons.map((r) =>
      h('span', { class: 'item', data: { reason: r } }, swatch(r), r)));
  }

  /* Each node's links as it sees them, rates from the last two answers. */
  function renderLinks(nodes, prevNodes, dt) {
    const rows = [];
    for (const n of nodes) {
      const links = n.links || [];
      if (n.status !== 'ok' || !links.length) {
        rows.push(h('tr', { data: { node: n.node }, class: 'first' }, cell('node', n.node),
          n.status !== 'ok'
            ? h('td', { colspan: 12, class: 'warn', text: 'no answer: ' + n.status })
            : h('td', { colspan: 12, class: 'muted', text: 'no links' })));
        continue;
      }
      const old = new Map(((prevNodes.get(n.node) || {}).links || []).map((l) => [l.peer, l]));
      links.forEach((l, i) => {
        const o = old.get(l.peer) || {};
        rows.push(h('tr', { data: { node: n.node, peer: l.peer }, class: i === 0 ? 'first' : null },
          cell('node', i === 0 ? n.node : ''),
          cell('peer', l.peer),
          cell('up', l.up ? 'up' : 'down', { cls: l.up ? 'ok' : 'warn' }),
          numCell('out_per_s', rate(l.envelopes_out, o.envelopes_out, dt), fmtRate),
          numCell('in_per_s', rate(l.envelopes_in, o.envelopes_in, dt), fmtRate),
          numCell('bytes_out_per_s', rate(l.bytes_out, o.bytes_out, dt), fmtBytes),
          numCell('bytes_in_per_s', rate(l.bytes_in, o.bytes_in, dt), fmtBytes),
          numCell('queued', l.queued),
          numCell('rtt', l.rtt_us, (us) => (l.up && isNum(us) ? fmtNs(us * 1000) : '–')),
          numCell('reconnects', l.reconnects),
          numCell('resumes', l.resumes),
          numCell('tls_resumes', l.tls_resumes),
          cell('cipher', l.cipher || '–', { cls: 'mono small' })));
      });
    }
    $('#links tbody').replaceChildren(...rows);
  }

  /* Counters: one row per name, one column per node, with the rate of
   * those that moved. */
  function renderCounters(nodes, prevNodes, dt) {
    const names = [];
    for (const n of nodes) {
      for (const k of Object.keys(n.counters || {})) if (!names.includes(k)) names.push(k);
    }
    const showZero = $('#show-zero').checked;
    const shown = names.filter((k) => showZero || nodes.some((n) => (n.counters || {})[k]));
    $('#counters thead tr').replaceChildren(h('th', { text: 'counter' }),
      ...nodes.map((n) => h('th', { class: 'num', data: { node: n.node } }, n.node,
        n.status === 'ok' ? null : h('span', { class: 'warn', text: ' ' + n.status }))));
    $('#counters tbody').replaceChildren(...shown.map((k) => h('tr', { data: { counter: k } },
      cell('counter', k),
      ...nodes.map((n) => {
        const v = (n.counters || {})[k];
        const r = rate(v, ((prevNodes.get(n.node) || {}).counters || {})[k], dt);
        return h('td', { class: 'num', data: { node: n.node, value: isNum(v) ? v : null } },
          fmtInt(v), r ? h('span', { class: 'rate', text: ' +' + fmtRate(r) + '/s' }) : null);
      }))));
  }

  /* The members on a circle; a line where a link is up, dashed when only
   * one side says so. */
  function renderGraph(members, nodes) {
    const g = $('#graph'), W = 360, H = 220, R = Math.min(W, H) / 2 - 38;
    const pos = new Map();
    members.forEach((m, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / members.length;
      const r = members.length > 1 ? R : 0;
      pos.set(m.name, [W / 2 + r * Math.cos(a), H / 2 + r * Math.sin(a)]);
    });
    const up = new Set();
    for (const n of nodes) for (const l of n.links || []) if (l.up) up.add(n.node + '\n' + l.peer);
    const parts = [];
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const a = members[i].name, b = members[j].name;
        const ab = up.has(a + '\n' + b), ba = up.has(b + '\n' + a);
        if (!ab && !ba) continue;
        const [x1, y1] = pos.get(a), [x2, y2] = pos.get(b);
        parts.push(svg('line', { x1, y1, x2, y2, class: ab && ba ? 'link' : 'link half' }));
      }
    }
    for (const m of members) {
      const [x, y] = pos.get(m.name);
      const grp = svg('g', { class: 'node ' + stateClass(m.state) + (m.self ? ' self' : '') });
      grp.append(svg('circle', { cx: x, cy: y, r: 14 }),
        svg('text', { x, y: y + (y > H / 2 ? 30 : -20), 'text-anchor': 'middle' }, m.name),
        svg('title', null, `${m.name}: ${m.state}`));
      parts.push(grp);
    }
    g.replaceChildren(...parts);
  }

  /* ---- actors ---------------------------------------------------------- */

  /* The table's columns: key (also data-col and, with sort, the API's sort
   * key), how to show the value. */
  const ACTOR_COLS = [
    { key: 'id', label: 'id', sort: true },
    { key: 'type', label: 'type', sort: true },
    { key: 'node', label: 'node', sort: true },
    { key: 'queued', label: 'queued / capacity', sort: true, num: true },
    { key: 'hwm', label: 'hwm', sort: true, num: true, fmt: fmtInt },
    { key: 'in_per_s', label: 'in/s', sort: true, num: true, fmt: fmtRate },
    { key: 'out_per_s', label: 'out/s', sort: true, num: true, fmt: fmtRate },
    { key: 'handler_mean_ns', label: 'handler mean', sort: true, num: true, fmt: fmtNs },
    { key: 'handler_max_ns', label: 'handler max', sort: true, num: true, fmt: fmtNs },
    { key: 'children', label: 'children', num: true, fmt: fmtInt },
    { key: 'dead', label: 'dead letters', sort: true, num: true, fmt: fmtInt },
    { key: 'restarts', label: 'restarts', sort: true, num: true, fmt: fmtInt },
    { key: 'age_ms', label: 'age', sort: true, num: true, fmt: fmtAge },
  ];

  function buildActorHead() {
    $('#actors thead tr').replaceChildren(...ACTOR_COLS.map((c) => h('th',
      { class: c.num ? 'num' : null, data: { col: c.key, sort: c.sort ? c.key : null } },
      c.sort ? h('button', { type: 'button', text: c.label }) : c.label)));
    showSort();
  }

  function showSort() {
    for (const th of document.querySelectorAll('#actors th[data-sort]')) {
      if (th.dataset.sort !== state.q.sort) th.removeAttribute('aria-sort');
      else th.setAttribute('aria-sort', state.q.order === 'asc' ? 'ascending' : 'descending');
    }
  }

  /* A row's cells are made once and then only their text changes, so a
   * refresh does not rebuild the table. */
  function newActorRow() {
    return h('tr', null, ...ACTOR_COLS.map((c) => {
      const td = h('td', { class: c.num ? 'num' : null, data: { col: c.key } });
      if (c.key === 'id') td.append(h('a'));
      if (c.key === 'queued') {
        td.append(h('span', { class: 'bar' }, h('span', { class: 'fill' })), h('span', { class: 'q' }));
      }
      return td;
    }));
  }

  function fillActorRow(tr, a) {
    tr.dataset.id = a.id;
    ACTOR_COLS.forEach((c, i) => {
      const td = tr.cells[i], v = a[c.key];
      if (c.key === 'id') {
        const link = td.firstChild, href = '#actor/' + encodeURIComponent(a.id);
        if (link.getAttribute('href') !== href) {
          link.setAttribute('href', href);
          link.title = link.textContent = a.id;
        }
      } else if (c.key === 'queued') {
        const cap = a.capacity, frac = isNum(cap) && cap > 0 && isNum(v) ? Math.min(1, v / cap) : 0;
        setData(td, 'value', v);
        setData(td, 'capacity', cap);
        td.classList.toggle('hot', frac >= 0.8);
        td.firstChild.firstChild.style.width = (frac * 100).toFixed(1) + '%';
        setText(td.lastChild, `${fmtInt(v)} / ${fmtInt(cap)}`);
      } else {
        setText(td, c.fmt ? c.fmt(v) : (v == null ? '–' : String(v)));
        if (c.num) setData(td, 'value', v);
      }
    });
  }

  function renderActors(a) {
    const q = state.q, rows = a.actors || [], total = a.total || 0;
    // The page ran past the end (actors stopped, or a narrower filter).
    if (!rows.length && total > 0 && q.offset > 0) {
      q.offset = Math.floor((total - 1) / q.limit) * q.limit;
      actorsChanged();
      return;
    }
    const tbody = $('#actors tbody');
    while (tbody.rows.length > rows.length) tbody.lastChild.remove();
    while (tbody.rows.length < rows.length) tbody.append(newActorRow());
    rows.forEach((x, i) => fillActorRow(tbody.rows[i], x));
    $('#actors-empty').hidden = rows.length > 0;

    const first = rows.length ? q.offset + 1 : 0;
    setText($('#page-info'), `${fmtInt(first)}–${fmtInt(q.offset + rows.length)} of ${fmtInt(total)}`);
    $('#page-info').dataset.total = total;
    $('#prev').disabled = q.offset === 0;
    $('#next').disabled = q.offset + rows.length >= total;
    setText($('#actor-nodes'), (a.nodes || []).map((n) =>
      n.status === 'ok' ? `${n.node} ${fmtInt(n.total)}` : `${n.node} ${n.status}`).join(' · '));
  }

  function bindActorControls() {
    const q = state.q;
    $('#actors thead').addEventListener('click', (ev) => {
      const th = ev.target.closest('th[data-sort]');
      if (!th) return;
      const key = th.dataset.sort;
      if (q.sort === key) q.order = q.order === 'asc' ? 'desc' : 'asc';
      else [q.sort, q.order] = [key, ['id', 'type', 'node'].includes(key) ? 'asc' : 'desc'];
      q.offset = 0;
      showSort();
      actorsChanged();
    });
    let filterTimer = 0;
    $('#filter').addEventListener('input', (ev) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        if (q.filter === ev.target.value) return;
        q.filter = ev.target.value;
        q.offset = 0;
        actorsChanged();
      }, FILTER_DELAY_MS);
    });
    const on = (sel, type, change) => $(sel).addEventListener(type, (ev) => { change(ev.target); actorsChanged(); });
    on('#node-filter', 'change', (t) => { q.node = t.value; q.offset = 0; });
    on('#page-size', 'change', (t) => { q.limit = Number(t.value); q.offset = 0; });
    on('#prev', 'click', () => { q.offset = Math.max(0, q.offset - q.limit); });
    on('#next', 'click', () => { q.offset += q.limit; });
  }

  /* ---- one actor ------------------------------------------------------- */

  const ACTOR_FIELDS = [
    ['id', 'id'], ['type', 'type'], ['node', 'node'],
    ['parent', 'parent', (v) => actorLink(v)],
    ['queued', 'queued'], ['capacity', 'capacity'], ['hwm', 'hwm'],
    ['delivered', 'delivered'], ['sent', 'sent'],
    ['in_per_s', 'in/s', fmtRate], ['out_per_s', 'out/s', fmtRate],
    ['handler_mean_ns', 'handler mean', fmtNs], ['handler_max_ns', 'handler max', fmtNs],
    ['children', 'children'], ['dead', 'dead letters'], ['restarts', 'restarts'],
    ['age_ms', 'age', fmtAge],
  ];

  function renderActor(d) {
    const a = d.actor || {};
    $('#actor-error').hidden = true;
    $('#actor-body').hidden = false;
    const known = new Set(ACTOR_FIELDS.map((f) => f[0]));
    // Fields this page does not know yet are shown as they come.
    const fields = ACTOR_FIELDS.concat(Object.keys(a).filter((k) => !known.has(k)).map((k) => [k, k]));
    $('#actor-fields tbody').replaceChildren(...fields.map(([k, label, fmt]) => {
      const v = a[k];
      const shown = fmt ? fmt(v) : isNum(v) ? fmtInt(v) : v == null ? '–'
        : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return h('tr', { data: { field: k } }, h('th', { text: label }),
        h('td', { class: isNum(v) ? 'num' : null, data: { col: k, value: isNum(v) ? v : null } }, shown));
    }));

    const subRow = (who, s) => h('tr', { data: { [who]: s[who], topic: s.topic } },
      h('td', { data: { col: who } }, actorLink(s[who])), topicCell(s.topic), cell('node', s.node),
      numCell('delivered', s.delivered), numCell('dropped', s.dropped));
    const subs = d.subscriptions || [], subd = d.subscribers || [];
    $('#actor-subscriptions tbody').replaceChildren(
      ...(subs.length ? subs.map((s) => subRow('publisher', s)) : [emptyRow(5, 'none')]));
    $('#actor-subscribers tbody').replaceChildren(
      ...(subd.length ? subd.map((s) => subRow('subscriber', s)) : [emptyRow(5, 'none')]));
    fillIdList($('#actor-groups'), d.groups || [], (g) => h('a', { href: '#groups', text: g }));
    // Monitors both ways, and the recent dead letters it sent or was sent.
    const mons = d.monitors || {}, monRow = (m) => h('tr', { data: { id: m.id, node: m.node } },
      h('td', { data: { col: 'id' } }, actorLink(m.id)), cell('node', m.node || '–'));
    for (const [sel, rows] of [['#actor-monitored-by', mons.by || []], ['#actor-monitoring', mons.of || []]])
      $(sel + ' tbody').replaceChildren(...(rows.length ? rows.map(monRow) : [emptyRow(2, 'none')]));
    setText($('#actor-monitors-more'), mons.more ? `and ${fmtInt(mons.more)} more` : '');
    const deads = d.dead_letters || [];
    $('#actor-dead-letters tbody').replaceChildren(...(deads.length ? deads.map((x) =>
      h('tr', { data: { reason: x.reason, from: x.from, to: x.to } },
        cell('at_ms', fmtClock(x.at_ms), { value: x.at_ms }), cell('reason', x.reason),
        h('td', { data: { col: 'from' } }, x.from ? actorLink(x.from) : '–'),
        h('td', { data: { col: 'to' } }, x.to ? actorLink(x.to) : '–'),
        numCell('len', x.len), cell('node', x.node))) : [emptyRow(6, 'none')]));
    const children = d.children || [];
    fillIdList($('#actor-children'), children, actorLink);
    setText($('#actor-children-count'), children.length ? fmtInt(children.length) : '');

    const samples = state.samples, now = Date.now();
    samples.push({ t: now, in: a.in_per_s, out: a.out_per_s });
    while (samples.length && samples[0].t < now - CHART_SPAN_MS) samples.shift();
    drawChart($('#actor-chart'), samples, now,
      [{ cls: 'in', get: (s) => s.in }, { cls: 'out', get: (s) => s.out }]);
  }

  function actorFailed(e) {
    if (e.status !== 404) { showError(e); return; }
    showError(null);
    $('#actor-body').hidden = true;
    const p = $('#actor-error');
    p.hidden = false;
    p.textContent = `No actor “${state.actorId}” in the cluster ` +
      '(it may have stopped, or its node did not answer).';
  }

  /* The smallest of 1, 2, 5 × 10^k at least v. */
  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v);
  }

  /* Series ({cls, get(sample)}) over the last five minutes, in the SVG's
   * viewBox; a gap (the view was left or paused) breaks the lines rather
   * than bridging it. */
  function drawChart(el, samples, now, series) {
    const vb = el.viewBox.baseVal;
    const W = vb.width || 600, H = vb.height || 200, L = 48, R = 10, T = 10, B = 24;
    const vals = samples.flatMap((s) => series.map((sr) => sr.get(s))).filter(isNum);
    const max = niceCeil(Math.max(1, ...vals));
    const x = (t) => L + ((t - (now - CHART_SPAN_MS)) / CHART_SPAN_MS) * (W - L - R);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    const parts = [];
    for (const f of [0, 0.5, 1]) {
      parts.push(svg('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'gridline' }),
        svg('text', { x: L - 6, y: y(max * f) + 4, 'text-anchor': 'end' }, fmtRate(max * f)));
    }
    for (let m = 5; m >= 0; m--) {
      const anchor = m === 5 ? 'start' : m ? 'middle' : 'end';
      parts.push(svg('text', { x: x(now - m * 60000), y: H - 6, 'text-anchor': anchor }, m ? `−${m} min` : 'now'));
    }
    for (const sr of series) {
      let pts = [], last = 0;
      const flush = () => {
        if (pts.length) parts.push(svg('polyline', { points: pts.join(' '), class: 'series ' + sr.cls }));
        pts = [];
      };
      for (const s of samples) {
        const v = sr.get(s);
        if (!isNum(v)) continue;
        if (s.t - last > 5000) flush();
        pts.push(x(s.t).toFixed(1) + ',' + y(v).toFixed(1));
        last = s.t;
      }
      flush();
    }
    el.replaceChildren(...parts);
  }

  /* ---- topics and groups ---------------------------------------------- */

  function topicCell(topic) {
    return topic ? cell('topic', topic) : cell('topic', 'all topics', { cls: 'muted' });
  }

  /* One block of rows per publisher and topic; the first row carries them. */
  function renderTopics(d) {
    const subs = (d.subscriptions || []).slice();
    const key = (s) => [s.publisher, s.topic, s.node, s.subscriber || '', s.sub_node];
    subs.sort((a, b) => {
      const ka = key(a), kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return String(ka[i]) < String(kb[i]) ? -1 : 1;
      return 0;
    });
    const rows = [];
    for (let i = 0; i < subs.length;) {
      let j = i;
      const same = (s) => s.publisher === subs[i].publisher && s.topic === subs[i].topic;
      while (j < subs.length && same(subs[j])) j++;
      subs.slice(i, j).forEach((s, k) => {
        const tr = h('tr', {
          class: k === 0 ? 'first' : null,
          data: { publisher: s.publisher, topic: s.topic, node: s.node, subscriber: s.subscriber },
        });
        if (k === 0) {
          tr.append(h('td', { rowspan: j - i, data: { col: 'publisher' } }, actorLink(s.publisher)));
          const t = topicCell(s.topic);
          t.rowSpan = j - i;
          tr.append(t);
        }
        tr.append(cell('node', s.node),
          s.subscriber == null
            ? cell('subscriber', 'remote subscribers', { cls: 'muted' })
            : h('td', { data: { col: 'subscriber' } }, actorLink(s.subscriber)),
          cell('sub_node', s.sub_node),
          numCell('delivered', s.delivered), numCell('dropped', s.dropped));
        rows.push(tr);
      });
      i = j;
    }
    $('#topics tbody').replaceChildren(...(rows.length ? rows : [emptyRow(7, 'No subscriptions.')]));
  }

  /* One row per group, one column per node with its members there. */
  function renderGroups(d) {
    const groups = d.groups || [];
    const nodes = ((state.cluster && state.cluster.members) || []).map((m) => m.name);
    for (const g of groups) for (const m of g.members || []) if (!nodes.includes(m.node)) nodes.push(m.node);
    $('#groups thead tr').replaceChildren(h('th', { text: 'group' }), h('th', { class: 'num', text: 'members' }),
      ...nodes.map((n) => h('th', { data: { node: n }, text: 'on ' + n })));
    const rows = groups.map((g) => {
      const members = g.members || [];
      return h('tr', { data: { group: g.group } }, cell('group', g.group), numCell('members', members.length),
        ...nodes.map((n) => {
          const ids = members.filter((m) => m.node === n).map((m) => m.id);
          const ul = h('ul', { class: 'ids inline' });
          fillIdList(ul, ids, actorLink);
          return h('td', { data: { col: 'node', node: n, value: ids.length } }, ul);
        }));
    });
    $('#groups tbody').replaceChildren(...(rows.length ? rows : [emptyRow(2 + nodes.length, 'No groups.')]));
  }

  /* ---- events and the log ---------------------------------------------- */

  const LEVELS = ['error', 'warn', 'info', 'debug'];
  const levelOf = (l) => (LEVELS.includes(l) ? l : 'info');
  const lineText = new WeakMap();  // an event row -> what the filter searches

  /* The node restarted when it answers with a last below what we asked
   * after (its lines are numbered again from 1): start over. */
  const restarted = (d, seen) => isNum(d.last) && d.last < seen.asked;

  function levelCell(level) {
    return h('td', { data: { col: 'level', value: level } }, h('span', { class: 'level', text: level }));
  }

  function eventRow(l) {
    const level = levelOf(l.level), fields = String(l.fields || '');
    const tr = h('tr', { class: 'lvl-' + level, data: { seq: l.seq, event: l.event, level } },
      h('td', { class: 'mono', data: { col: 'time', value: l.time_ms }, title: fmtTime(l.time_ms) },
        fmtClock(l.time_ms)),
      levelCell(level),
      cell('event', String(l.event), { cls: 'mono' }),
      h('td', { data: { col: 'fields' } }, ...parseFields(fields).map(([k, v]) =>
        h('span', { class: 'chip', data: { key: k } }, h('span', { class: 'k', text: k }),
          v == null ? null : '=' + v))));
    lineText.set(tr, (l.event + ' ' + fields).toLowerCase());
    return tr;
  }

  /* New events go on top; the oldest past EVENTS_MAX go. */
  function renderEvents(d) {
    const ev = state.events, tbody = $('#events tbody');
    if (restarted(d, ev)) {
      ev.last = 0;
      tbody.replaceChildren();
    } else {
      const rows = (d.lines || []).filter((l) => isNum(l.seq) && l.seq > ev.last).map(eventRow);
      tbody.prepend(...rows.reverse());
      while (tbody.rows.length > EVENTS_MAX) tbody.lastChild.remove();
      if (isNum(d.last)) ev.last = Math.max(ev.last, d.last);
    }
    filterEvents();
  }

  /* The filter: a substring of the event and its fields, any case. */
  function filterEvents() {
    const q = state.events.filter.toLowerCase(), rows = $('#events tbody').rows;
    let shown = 0;
    for (const tr of rows) {
      tr.hidden = !!q && !(lineText.get(tr) || '').includes(q);
      if (!tr.hidden) shown++;
    }
    const empty = $('#events-empty');
    empty.hidden = shown > 0;
    setText(empty, rows.length ? 'No event matches the filter.' : 'No events yet.');
    setText($('#events-info'), q ? `${fmtInt(shown)} of ${fmtInt(rows.length)} events`
      : `${fmtInt(rows.length)} events`);
  }

  const atBottom = (box) => box.scrollTop + box.clientHeight >= box.scrollHeight - 4;

  function logRow(l) {
    const level = levelOf(l.level);
    return h('tr', { class: 'lvl-' + level, data: { seq: l.seq, level } },
      h('td', { data: { col: 'time', value: l.time_ms }, title: fmtTime(l.time_ms) }, fmtClock(l.time_ms)),
      levelCell(level),
      cell('event', String(l.event)),
      cell('fields', String(l.fields || '')));
  }

  /* New lines at the bottom; the oldest past LOG_MAX go. The box follows
   * the newest unless the user scrolled up (then it keeps their place). */
  function renderLog(d) {
    const lg = state.log, box = $('#log-box'), tbody = $('#log tbody');
    if (restarted(d, lg)) {
      lg.last = 0;
      tbody.replaceChildren();
    } else {
      const rows = (d.lines || []).filter((l) => isNum(l.seq) && l.seq > lg.last).map(logRow);
      tbody.append(...rows);
      if (tbody.rows.length > LOG_MAX) {
        const before = box.scrollHeight;
        while (tbody.rows.length > LOG_MAX) tbody.firstChild.remove();
        if (!lg.follow) box.scrollTop -= before - box.scrollHeight;
      }
      if (isNum(d.last)) lg.last = Math.max(lg.last, d.last);
    }
    $('#log-empty').hidden = tbody.rows.length > 0;
    setText($('#log-info'), `${fmtInt(tbody.rows.length)} lines`);
    if (lg.follow) box.scrollTop = box.scrollHeight;
    $('#log-follow').hidden = lg.follow;
  }

  function bindLines() {
    let filterTimer = 0;
    $('#events-filter').addEventListener('input', (ev) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { state.events.filter = ev.target.value; filterEvents(); }, FILTER_DELAY_MS);
    });
    const box = $('#log-box');
    box.addEventListener('scroll', () => {
      state.log.follow = atBottom(box);
      $('#log-follow').hidden = state.log.follow;
    });
    $('#log-follow').addEventListener('click', () => {
      state.log.follow = true;
      box.scrollTop = box.scrollHeight;
      $('#log-follow').hidden = true;
    });
    // Another level: the lines from the start, at that level.
    $('#log-level').addEventListener('change', (ev) => {
      const lg = state.log;
      lg.level = levelOf(ev.target.value);
      lg.last = 0;
      lg.follow = true;
      $('#log tbody').replaceChildren();
      $('#log-empty').hidden = false;
      setText($('#log-info'), '');
      startPolling();
    });
  }

  /* ---- routing --------------------------------------------------------- */

  /* #cluster, #actors, #actor/ID (ID URI-encoded), #topics, #groups,
   * #events, #log. */
  function route() {
    const hash = location.hash.slice(1);
    let view = hash, id = null;
    if (hash.startsWith('actor/')) {
      view = 'actor';
      try { id = decodeURIComponent(hash.slice(6)); } catch (e) { id = hash.slice(6); }
    }
    if (!VIEWS.includes(view)) view = 'cluster';
    state.view = view;
    if (id !== state.actorId) {
      state.actorId = id;
      state.samples = [];
      if (id != null) {
        setText($('#actor-title'), id);
        for (const sel of ['#actor-fields tbody', '#actor-subscriptions tbody', '#actor-subscribers tbody',
          '#actor-monitored-by tbody', '#actor-monitoring tbody', '#actor-dead-letters tbody',
          '#actor-groups', '#actor-children', '#actor-chart']) $(sel).replaceChildren();
        $('#actor-error').hidden = true;
        $('#actor-body').hidden = false;
        setText($('#act-result'), '');
        $('#act-reply').hidden = true;
      }
    }
    for (const v of VIEWS) {
      const section = $('#view-' + v);
      if (v === view && section.hidden) window.scrollTo(0, 0);
      section.hidden = v !== view;
    }
    const tab = view === 'actor' ? 'actors' : view;
    for (const a of document.querySelectorAll('#tabs a')) {
      if (a.dataset.view === tab) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = (view === 'actor' ? id : view) + ' · troupe inspector';
    if (view === 'log' && state.log.follow) $('#log-box').scrollTop = $('#log-box').scrollHeight;
    showError(null);
    startPolling();
  }

  /* ---- sessions and actions ----------------------------------------------
   * `troupe ui-login URL` prints URL#session=TOKEN: the token is taken off
   * the address (so it is neither kept in history nor sent anywhere but as
   * the Authorization header of this page's own requests) and kept for the
   * tab's life. An operator's session may stop actors and send to them; a
   * viewer's only reads (the node refuses it anyway). Over HTTPS (the
   * inspector beyond loopback) the client certificate is the session:
   * /api/session says whose, with no token. */
  const SESSION_KEY = 'troupe.session';

  function takeSession() {
    const m = location.hash.match(/(?:^#|&)session=([0-9a-f]+)/);
    if (!m) return;
    sessionStorage.setItem(SESSION_KEY, m[1]);
    history.replaceState(null, '', location.pathname + location.search + '#cluster');
  }

  const authHeaders = () => {
    const t = sessionStorage.getItem(SESSION_KEY);
    return t ? { Authorization: 'Bearer ' + t } : {};
  };

  async function loadSession() {
    const el = $('#session');
    state.session = null;
    if (sessionStorage.getItem(SESSION_KEY) || location.protocol === 'https:') {
      try {
        const r = await fetch('/api/session', { cache: 'no-store', headers: authHeaders() });
        if (r.ok) state.session = await r.json();
        else sessionStorage.removeItem(SESSION_KEY); /* expired or another node's */
      } catch (e) { /* the node is away: no session shown */ }
    }
    const s = state.session;
    el.hidden = !s;
    if (s) {
      setText(el, s.name + ' · ' + s.role);
      el.dataset.role = s.role;
    }
    const operator = !!s && s.role === 'operator';
    for (const b of ['#act-send', '#act-ask', '#act-stop']) {
      $(b).disabled = !operator;
      $(b).title = operator ? '' : location.protocol === 'https:'
        ? 'needs an operator certificate' : 'needs an operator session: troupe ui-login URL';
    }
    setText($('#act-who'), s ? 'as ' + s.name : 'read only: no session');
  }

  async function act(verb) {
    const out = $('#act-result'), id = state.actorId;
    if (id == null) return;
    const body = verb === 'stop' ? '' : $('#act-data').value;
    const reply = $('#act-reply');
    reply.hidden = true;
    out.dataset.state = 'busy';
    setText(out, verb + '…');
    try {
      const r = await fetch('/api/actor/' + verb + '?id=' + encodeURIComponent(id),
        { method: 'POST', cache: 'no-store', headers: authHeaders(), body });
      let j = null;
      try { j = await r.json(); } catch (e) { /* the status says it */ }
      out.dataset.state = r.ok ? 'ok' : 'error';
      setText(out, r.ok ? { stop: 'stop requested', send: 'sent',
        ask: 'reply from ' + (j && j.from) + ' on ' + (j && j.node) }[verb]
        : verb + ' refused: ' + ((j && j.error) || r.statusText));
      if (r.ok && verb === 'ask') {
        setText(reply, j.reply);
        reply.hidden = false;
      }
    } catch (e) {
      out.dataset.state = 'error';
      setText(out, verb + ' failed: ' + e.message);
    }
  }

  function bindActions() {
    $('#act-form').addEventListener('submit', (e) => { e.preventDefault(); act('send'); });
    $('#act-stop').addEventListener('click', () => act('stop'));
    $('#act-ask').addEventListener('click', () => act('ask'));
  }

  function start() {
    takeSession();
    bindActions();
    loadSession();
    buildActorHead();
    bindActorControls();
    bindLines();
    $('#log-level').value = state.log.level;
    $('#pause').addEventListener('click', () => setPaused(!state.paused));
    $('#show-zero').addEventListener('change', () => { if (state.cluster) drawCluster(); });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') {
        closeStream();
        stopPolling();
      } else if (!state.paused) {
        resume();
      }
      showLive();
    });
    setInterval(showLive, 500);
    route();
    actorsChanged();
    showLive();
  }

  start();
})();
