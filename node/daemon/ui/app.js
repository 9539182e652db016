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
  const VIEWS = ['cluster', 'actors', 'actor', 'topics', 'groups'];

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
    drawCluster();
  }

  /* Everything from state.cluster, with rates against state.prev. */
  function drawCluster() {
    const c = state.cluster, prev = state.prev;
    const dt = prev ? (c.time_ms - prev.time_ms) / 1000 : 0;
    const prevNodes = new Map(((prev && prev.nodes) || []).map((n) => [n.node, n]));
    const members = c.members || [], nodes = c.nodes || [];
    setText($('#node-name'), c.node || '–');
    renderMembers(members);
    renderNodes(nodes, prevNodes, dt);
    renderLinks(nodes, prevNodes, dt);
    renderCounters(nodes, prevNodes, dt);
    renderGraph(members, nodes);
  }

  function renderMembers(members) {
    $('#members tbody').replaceChildren(...members.map((m) =>
      h('tr', { data: { name: m.name }, class: m.self ? 'self' : null },
        cell('name', m.name),
        h('td', { data: { col: 'state', value: m.state } },
          h('span', { class: 'state ' + stateClass(m.state), text: m.state })),
        cell('addr', m.addr || '–', { cls: 'mono' }),
        h('td', { class: 'mono', data: { col: 'epoch', value: m.epoch }, title: String(m.epoch) },
          fmtTime(m.epoch)),
        numCell('incarnation', m.incarnation),
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

  /* Each node's links as it sees them, rates from the last two answers. */
  function renderLinks(nodes, prevNodes, dt) {
    const rows = [];
    for (const n of nodes) {
      const links = n.links || [];
      if (n.status !== 'ok' || !links.length) {
        rows.push(h('tr', { data: { node: n.node }, class: 'first' }, cell('node', n.node),
          n.status !== 'ok'
            ? h('td', { colspan: 9, class: 'warn', text: 'no answer: ' + n.status })
            : h('td', { colspan: 9, class: 'muted', text: 'no links' })));
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
          numCell('reconnects', l.reconnects)));
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
    ['children', 'children'], ['age_ms', 'age', fmtAge],
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
    const children = d.children || [];
    fillIdList($('#actor-children'), children, actorLink);
    setText($('#actor-children-count'), children.length ? fmtInt(children.length) : '');

    const samples = state.samples, now = Date.now();
    samples.push({ t: now, in: a.in_per_s, out: a.out_per_s });
    while (samples.length && samples[0].t < now - CHART_SPAN_MS) samples.shift();
    drawChart($('#actor-chart'), samples, now);
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

  /* in/s and out/s over the last five minutes; a gap (the view was left or
   * paused) breaks the lines rather than bridging it. */
  function drawChart(el, samples, now) {
    const W = 600, H = 200, L = 48, R = 10, T = 10, B = 24;
    const vals = samples.flatMap((s) => [s.in, s.out]).filter(isNum);
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
    for (const key of ['in', 'out']) {
      let pts = [], last = 0;
      const flush = () => {
        if (pts.length) parts.push(svg('polyline', { points: pts.join(' '), class: 'series ' + key }));
        pts = [];
      };
      for (const s of samples) {
        if (!isNum(s[key])) continue;
        if (s.t - last > 5000) flush();
        pts.push(x(s.t).toFixed(1) + ',' + y(s[key]).toFixed(1));
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

  /* ---- routing --------------------------------------------------------- */

  /* #cluster, #actors, #actor/ID (ID URI-encoded), #topics, #groups. */
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
          '#actor-groups', '#actor-children', '#actor-chart']) $(sel).replaceChildren();
        $('#actor-error').hidden = true;
        $('#actor-body').hidden = false;
        setText($('#act-result'), '');
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
    showError(null);
    startPolling();
  }

  /* ---- sessions and actions ----------------------------------------------
   * `troupe ui-login URL` prints URL#session=TOKEN: the token is taken off
   * the address (so it is neither kept in history nor sent anywhere but as
   * the Authorization header of this page's own requests) and kept for the
   * tab's life. An operator's session may stop actors and send to them; a
   * viewer's only reads (the node refuses it anyway). */
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
    if (sessionStorage.getItem(SESSION_KEY)) {
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
    for (const b of ['#act-send', '#act-stop']) {
      $(b).disabled = !operator;
      $(b).title = operator ? '' : 'needs an operator session: troupe ui-login URL';
    }
    setText($('#act-who'), s ? 'as ' + s.name : 'read only: no session');
  }

  async function act(verb) {
    const out = $('#act-result'), id = state.actorId;
    if (id == null) return;
    const body = verb === 'send' ? $('#act-data').value : '';
    out.dataset.state = 'busy';
    setText(out, verb + '…');
    try {
      const r = await fetch('/api/actor/' + verb + '?id=' + encodeURIComponent(id),
        { method: 'POST', cache: 'no-store', headers: authHeaders(), body });
      let j = null;
      try { j = await r.json(); } catch (e) { /* the status says it */ }
      out.dataset.state = r.ok ? 'ok' : 'error';
      setText(out, r.ok ? (verb === 'stop' ? 'stop requested' : 'sent')
        : verb + ' refused: ' + ((j && j.error) || r.statusText));
    } catch (e) {
      out.dataset.state = 'error';
      setText(out, verb + ' failed: ' + e.message);
    }
  }

  function bindActions() {
    $('#act-form').addEventListener('submit', (e) => { e.preventDefault(); act('send'); });
    $('#act-stop').addEventListener('click', () => act('stop'));
  }

  function start() {
    takeSession();
    bindActions();
    loadSession();
    buildActorHead();
    bindActorControls();
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
