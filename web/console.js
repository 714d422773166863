/*
 * console.js: the Torwart web console (docs/console.md). Plain JavaScript, no framework,
 * no other origin. Every read and write is a request to the operator API through the
 * console listener (/v1/...), which applies the same roles, tenants and four-eyes rules
 * as the CLI. Text from the server is only ever put into the page with textContent,
 * never as HTML, and control characters are shown as visible escapes.
 */
'use strict';

(function () {
  let session = null;      // { operator, tenant, roles, csrf }
  let poll = null;         // timer of a page that refreshes itself

  const $ = (id) => document.getElementById(id);

  /* Control characters (C0, DEL, C1) and bidi overrides made visible: \u001b, ... */
  function clean(v) {
    if (v === null || v === undefined) return '';
    return String(v).replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
      (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = clean(v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : clean(k));
    return e;
  }

  function time(ms) {
    if (!ms) return '-';
    return new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function status(msg, bad) {
    const s = $('status');
    s.textContent = clean(msg || '');
    s.className = 'status' + (bad ? ' error' : '');
  }

  class ApiError extends Error {
    constructor(code, body) {
      super((body && (body.detail || body.title || (body.error && body.error.message))) ||
        ('HTTP ' + code));
      this.code = code;
      this.body = body;
    }
  }

  async function api(method, path, body) {
    const opt = { method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') {
      opt.headers['Content-Type'] = 'application/json';
      opt.headers['X-CSRF-Token'] = session ? session.csrf : '';
      opt.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opt);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (r.status === 401) { showLogin('Your session has ended; log in again.'); throw new ApiError(401, data); }
    if (!r.ok) throw new ApiError(r.status, data);
    return { code: r.status, data };
  }

  function b64(s) {
    try { return new TextDecoder().decode(Uint8Array.from(atob(s || ''), (c) => c.charCodeAt(0))); }
    catch (e) { return ''; }
  }

  /* The answer of a write that ran a command (or stored a four-eyes request). */
  function commandResult(res) {
    const d = res.data || {};
    if (res.code === 202 && d.approval)
      return { ok: true, text: 'Stored as four-eyes request #' + d.approval + ' (' + (d.action || '') +
        '): it runs when a second operator approves it.', approval: d.approval };
    const c = d.command || d;
    const out = b64(c.stdout), err = b64(c.stderr);
    return { ok: c.exit === 0, text: (c.exit === 0 ? out : err || out) || ('exit ' + c.exit), out };
  }

  function table(cols, rows, caption) {
    const t = el('table');
    if (caption) t.append(el('caption', { class: 'skip', text: caption }));
    t.append(el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col', text: c[0] })))));
    const tb = el('tbody');
    for (const r of rows) {
      tb.append(el('tr', {}, ...cols.map((c) => {
        const v = c[1](r);
        return el('td', { class: c[2] || null }, v instanceof Node ? v : clean(v));
      })));
    }
    if (!rows.length) tb.append(el('tr', {}, el('td', { colspan: cols.length, text: 'none' })));
    t.append(tb);
    return t;
  }

  function link(href, text) { return el('a', { href, text }); }

  function view(title, ...kids) {
    const v = $('view');
    v.replaceChildren(el('h1', { text: title }), ...kids);
    return v;
  }

  function errorBox(e) { return el('p', { class: 'error', role: 'alert', text: e.message }); }

  async function tryGet(path) {
    try { return (await api('GET', path)).data; } catch (e) { if (e.code === 401) throw e; return { _error: e }; }
  }

  /* A form of labelled inputs: fields [id, label, type, extra attrs]. */
  function form(id, fields, submitText, onSubmit) {
    const f = el('form', { id });
    for (const [fid, label, type, extra] of fields) {
      f.append(el('label', { for: fid, text: label }));
      if (type === 'select') {
        const s = el('select', { id: fid, name: fid });
        for (const o of extra.options) s.append(el('option', { value: o[0], text: o[1] }));
        f.append(s);
      } else if (type === 'textarea') {
        f.append(el('textarea', Object.assign({ id: fid, name: fid, rows: 3 }, extra || {})));
      } else {
        f.append(el('input', Object.assign({ id: fid, name: fid, type: type || 'text' }, extra || {})));
      }
    }
    f.append(el('button', { type: 'submit', id: id + '-submit', text: submitText }));
    f.addEventListener('submit', (ev) => { ev.preventDefault(); onSubmit(f); });
    return f;
  }

  /* ---------------- pages ---------------- */

  async function dashboard() {
    /* Counts come from /v1/summary (computed in the store over everything the operator's
     * tenant holds), not from a page of a list, which stops at its limit. */
    const [sum, ap, crls, ver] = await Promise.all([
      tryGet('/v1/summary'), tryGet('/v1/approvals?state=pending'), tryGet('/v1/crls'),
      tryGet('/v1/admin-log/verified')]);
    const cards = el('div', { class: 'cards' });
    const card = (title, n, detail, href) => cards.append(el('div', { class: 'card' },
      el('div', { text: title }), el('div', { class: 'n', text: n }),
      detail ? el('div', { text: detail }) : null, href ? link(href, 'Open') : null));
    const part = (name) => sum._error ? { err: sum._error.message } :
      sum[name] ? { v: sum[name] } : { err: (sum.denied && sum.denied[name]) || 'not permitted' };
    const g = part('gateways');
    if (g.v) card('Gateways online (contact in 24 h)', g.v.online, g.v.offline + ' offline', '#/gateways');
    else card('Gateways', '-', g.err);
    const a = part('alarms');
    if (a.v) card('Open alarms', a.v.open, null, '#/alarms');
    else card('Open alarms', '-', a.err);
    const j = part('jobs');
    if (j.v) {
      card('Jobs', j.v.total, Object.entries(j.v.by_state).filter(([, v]) => v > 0)
        .map(([k, v]) => k + ': ' + v).join(', '), '#/fleet');
    } else card('Jobs', '-', j.err);
    if (ap.approvals) card('Pending approvals', ap.approvals.length, null, '#/approvals');
    else card('Pending approvals', '-', ap._error.message);
    if (crls.crls) {
      const ages = crls.crls.filter((c) => c.this_update_ms || c.this_update).map((c) => {
        const t = c.this_update_ms || (c.this_update * 1000);
        return c.ca + ': ' + Math.round((Date.now() - t) / 3600000) + ' h';
      });
      card('CRL age', crls.crls.length, ages.join(', ') || 'no CRL issued yet');
    } else card('CRL age', '-', crls._error.message);
    if (ver._error) card('Admin log: last verified head', '-', ver._error.message);
    else card('Admin log: last verified head', ver.verified ? ver.tree_size : 'none',
      ver.verified ? 'verified by the ' + ver.verifier + ' at ' + time(ver.verified_ms)
        : 'no signed head verified yet', '#/log');
    view('Dashboard', el('p', { text: 'Operator ' + session.operator + ', tenant ' + (session.tenant || '-') +
      ', roles ' + session.roles }), cards);
  }

  async function gateways(q) {
    const params = new URLSearchParams(q);
    const f = form('gw-search', [
      ['gw-id', 'Gateway id', 'search', { value: params.get('id') || '' }],
      ['gw-tag', 'Tag', 'text', { value: params.get('tag') || '' }],
      ['gw-tenant', 'Tenant', 'text', { value: params.get('tenant') || '' }]], 'Search', (fm) => {
      const p = new URLSearchParams();
      for (const k of ['id', 'tag', 'tenant']) { const v = fm.elements['gw-' + k].value.trim(); if (v) p.set(k, v); }
      location.hash = '#/gateways?' + p.toString();
    });
    const id = (params.get('id') || '').toLowerCase();
    const qs = new URLSearchParams({ limit: '500' });
    if (params.get('tag')) qs.set('tag', params.get('tag'));
    const d = await tryGet('/v1/gateways?' + qs.toString());
    let rows = d.gateways || [];
    if (id) rows = rows.filter((g) => g.id.toLowerCase().includes(id));
    if (params.get('tenant')) rows = rows.filter((g) => String(g.tenant_id) === params.get('tenant') || g.tenant === params.get('tenant'));
    if (id && rows.length === 1 && rows[0].id.toLowerCase() === id) {
      location.hash = '#/gateway/' + encodeURIComponent(rows[0].id);
      return;
    }
    view('Gateways', f, d._error ? errorBox(d._error) : table([
      ['Id', (g) => link('#/gateway/' + encodeURIComponent(g.id), g.id)], ['State', (g) => g.state],
      ['Last contact', (g) => time(g.last_contact_ms)], ['Tags', (g) => g.tags],
      ['Tenant', (g) => g.tenant_id], ['Wake-up', (g) => g.wakeup]], rows, 'Gateways'));
  }

  async function gateway(id) {
    const e = encodeURIComponent(id);
    const g = await tryGet('/v1/gateways/' + e);
    if (g._error) { view('Gateway ' + id, errorBox(g._error)); return; }
    const gwo = g.gateway || g;
    const [pr, jobs, al, certs] = await Promise.all([tryGet('/v1/gateways/' + e + '/profiles'),
      tryGet('/v1/jobs?gateway=' + e + '&limit=100'), tryGet('/v1/alarms?gateway=' + e + '&limit=100'),
      tryGet('/v1/certificates?limit=500')]);
    const kids = [table([['Field', (r) => r[0]], ['Value', (r) => r[1], 'text']], [
      ['State', gwo.state], ['Last contact', time(gwo.last_contact_ms)], ['Last address', gwo.last_address],
      ['Wake-up address', gwo.wakeup], ['Tags', gwo.tags], ['Tenant', gwo.tenant_id], ['Open jobs', gwo.open_jobs]],
      'Gateway')];
    kids.push(el('h2', { text: 'Certificates' }));
    if (certs.certificates) kids.push(table([['Serial', (c) => link('#/certificate/' + encodeURIComponent(c.serial), c.serial)],
      ['Usage', (c) => c.usage], ['Status', (c) => c.status], ['Not after', (c) => time(c.not_after * 1000)]],
      certs.certificates.filter((c) => c.owner === id), 'Certificates'));
    else kids.push(el('p', { text: 'Certificates: ' + certs._error.message }));
    kids.push(el('h2', { text: 'Profiles: desired and reported' }));
    if (pr.profiles || pr.desired) {
      const p = pr.profiles || pr;
      kids.push(table([['Profile', (x) => x.profile_id], ['Type', (x) => x.type], ['Hash', (x) => x.hash],
        ['Updated', (x) => time(x.updated_ms)]], p.desired || [], 'Desired profiles'));
      const rep = p.reported || {};
      kids.push(el('p', { text: 'Reported: ' + (rep.count || 0) + ' profiles, set hash ' + (rep.set_hash || '-') +
        ' at ' + time(rep.reported_ms) }));
    } else kids.push(el('p', { text: 'Profiles: ' + pr._error.message }));
    kids.push(el('h2', { text: 'Jobs' }));
    kids.push(jobs.jobs ? jobTable(jobs.jobs) : el('p', { text: jobs._error.message }));
    kids.push(el('h2', { text: 'Alarms' }));
    kids.push(al.alarms ? alarmTable(al.alarms) : el('p', { text: al._error.message }));
    const logs = el('pre', { id: 'gateway-logs', text: 'Not loaded.' });
    const logBtn = el('button', { type: 'button', id: 'gateway-logs-load', text: 'Show the gateway log' });
    logBtn.addEventListener('click', async () => {
      logs.textContent = 'loading...';
      try {
        // `torwart gateway logs` as the operator, through the command API (its policy).
        const r = commandResult(await api('POST', '/v1/commands', { argv: ['gateway', 'logs', '--id', id] }));
        // Line by line: the output's own newlines stay, anything else is escaped.
        logs.textContent = (r.ok ? (r.out || 'empty') : r.text).split('\n').map(clean).join('\n');
      } catch (e) { logs.textContent = clean(e.message); }
    });
    kids.push(el('h2', { text: 'Log' }), logBtn, logs);
    view('Gateway ' + id, ...kids);
  }

  function jobTable(jobs) {
    return table([['Job', (j) => j.id], ['Fleet order', (j) => j.fleet_order ? link('#/fleet/' + j.fleet_order, String(j.fleet_order)) : '-'],
      ['Gateway', (j) => j.gateway], ['Type', (j) => j.type], ['State', (j) => j.state],
      ['Attempts', (j) => j.attempts + '/' + j.max_attempts], ['Updated', (j) => time(j.updated_ms)],
      ['Error', (j) => j.error, 'text']], jobs, 'Jobs');
  }

  function alarmTable(alarms, withAck) {
    const cols = [['Id', (a) => a.id], ['Gateway', (a) => link('#/gateway/' + encodeURIComponent(a.gateway), a.gateway)],
      ['Kind', (a) => a.kind], ['Type', (a) => a.type], ['Severity', (a) => a.severity],
      ['Received', (a) => time(a.received_ms)], ['Message', (a) => a.message, 'text'],
      ['Acknowledged', (a) => a.acknowledged ? a.acknowledged.by + ': ' + a.acknowledged.note : 'no', 'text']];
    if (withAck) cols.push(['Action', (a) => a.acknowledged ? '' : el('button', { type: 'button',
      class: 'secondary', id: 'ack-' + a.id, 'aria-label': 'Acknowledge alarm ' + a.id, text: 'Acknowledge',
      on: { click: () => ackAlarm(a) } })]);
    return table(cols, alarms, 'Alarms');
  }

  async function ackAlarm(a) {
    const n = $('ack-note');
    const note = n ? n.value.trim() : '';
    try {
      const r = commandResult(await api('POST', '/v1/alarms/' + a.id + '/ack', note ? { reason: note } : {}));
      status(r.text, !r.ok);
      route();
    } catch (e) { status(e.message, true); }
  }

  async function alarms(q) {
    const params = new URLSearchParams(q);
    const f = form('alarm-search', [['alarm-gateway', 'Gateway id', 'search', { value: params.get('gateway') || '' }],
      ['alarm-open', 'Show', 'select', { options: [['open', 'open only'], ['all', 'all']] }]], 'Show alarms', (fm) => {
      const p = new URLSearchParams();
      if (fm.elements['alarm-gateway'].value.trim()) p.set('gateway', fm.elements['alarm-gateway'].value.trim());
      p.set('show', fm.elements['alarm-open'].value);
      location.hash = '#/alarms?' + p.toString();
    });
    f.elements['alarm-open'].value = params.get('show') === 'all' ? 'all' : 'open';
    const qs = new URLSearchParams({ limit: '500' });
    if (params.get('gateway')) qs.set('gateway', params.get('gateway'));
    if (params.get('show') !== 'all') qs.set('status', 'open');
    const d = await tryGet('/v1/alarms?' + qs.toString());
    const note = el('p', {}, el('label', { for: 'ack-note', text: 'Note for an acknowledgement ' }),
      el('input', { id: 'ack-note', name: 'ack-note', type: 'text' }));
    view('Alarms', f, note, d._error ? errorBox(d._error) : alarmTable(d.alarms, true));
  }

  async function fleet() {
    const f = form('fleet-form', [
      ['fleet-type', 'Order type', 'text', { required: true, value: 'ping' }],
      ['fleet-select', 'Select by', 'select', { options: [['tag', 'tag'], ['gateway', 'one gateway'],
        ['gateways', 'gateway ids (comma-separated) or all'], ['tenant', 'tenant']] }],
      ['fleet-value', 'Selection', 'text', { required: true }],
      ['fleet-payload', 'Payload (JSON, optional)', 'textarea', {}],
      ['fleet-why', 'Why (needed for four-eyes)', 'text', {}]], 'Create fleet order', async (fm) => {
      const body = { type: fm.elements['fleet-type'].value.trim() };
      body[fm.elements['fleet-select'].value] = fm.elements['fleet-value'].value.trim();
      const payload = fm.elements['fleet-payload'].value.trim();
      if (payload) {
        try { body.payload = JSON.parse(payload); } catch (e) { status('The payload is not JSON: ' + e.message, true); return; }
      }
      if (fm.elements['fleet-why'].value.trim()) body.why = fm.elements['fleet-why'].value.trim();
      try {
        const r = commandResult(await api('POST', '/v1/fleet-orders', body));
        status(r.text, !r.ok);
        const m = /fleet order (\d+)/.exec(r.out || '');
        if (m) location.hash = '#/fleet/' + m[1]; else route();
      } catch (e) { status(e.message, true); }
    });
    const d = await tryGet('/v1/fleet-orders?limit=50');
    const final = (o) => o.finished >= o.jobs;
    view('Fleet orders', el('h2', { text: 'New fleet order' }), f, el('h2', { text: 'Recent fleet orders' }),
      d._error ? errorBox(d._error) : table([['Order', (o) => link('#/fleet/' + o.id, 'Fleet order ' + o.id)],
        ['Type', (o) => o.type], ['Selection', (o) => o.selection, 'text'], ['Ordered by', (o) => o.actor],
        ['Jobs', (o) => o.jobs], ['Final', (o) => o.finished + (final(o) ? ' (complete)' : '')],
        ['Progress', (o) => bar(o.states || {}, o.jobs)], ['Created', (o) => time(o.created_ms)]],
      d.fleet_orders, 'Fleet orders'));
  }

  function bar(states, total) {
    const b = el('div', { class: 'bar', role: 'img', 'aria-label': Object.entries(states).map(([k, v]) => k + ' ' + v).join(', ') });
    for (const [k, v] of Object.entries(states)) if (v > 0)
      b.append(el('span', { class: 's-' + k.replace(/-/g, '_'), style: null, 'data-w': v }));
    // widths via CSSOM (the CSP forbids inline style attributes, not the CSSOM)
    for (const s of b.children) s.style.width = (100 * Number(s.dataset.w) / Math.max(1, total)) + '%';
    return b;
  }

  async function fleetOrder(id) {
    const d = await tryGet('/v1/fleet-orders/' + encodeURIComponent(id));
    if (d._error) { view('Fleet order ' + id, errorBox(d._error)); return; }
    const o = d.fleet_order || d;
    const states = o.states || {};
    const finished = o.finished || 0;
    const total = o.jobs || 0;     // the jobs this operator may see (its tenant's)
    const jobs = await tryGet('/v1/jobs?batch=' + encodeURIComponent(id) + '&limit=500');
    view('Fleet order ' + id,
      el('p', { id: 'fleet-progress', text: finished + ' of ' + total + ' jobs final' +
        (finished >= total ? ' - complete' : ' - in progress (refreshes every 2 s)') }),
      bar(states, total),
      table([['Field', (r) => r[0]], ['Value', (r) => r[1], 'text']], [['Type', o.type], ['Selection', o.selection],
        ['Gateways selected', o.total],
        ['Ordered by', o.actor], ['Created', time(o.created_ms)],
        ['States', Object.entries(states).map(([k, v]) => k + ': ' + v).join(', ')]], 'Fleet order'),
      el('h2', { text: 'Jobs' }), jobs.jobs ? jobTable(jobs.jobs) : errorBox(jobs._error));
    if (finished < total) poll = setTimeout(route, 2000);
  }

  function argvOf(a) {
    try { const p = typeof a.params === 'string' ? JSON.parse(a.params) : a.params; return p && p.argv ? p.argv : null; }
    catch (e) { return null; }
  }

  async function approvals() {
    const d = await tryGet('/v1/approvals');
    if (d._error) { view('Approvals', errorBox(d._error)); return; }
    const pending = d.approvals.filter((a) => a.state === 'pending');
    const kids = [el('h2', { text: 'Pending' })];
    if (!pending.length) kids.push(el('p', { text: 'Nothing waits for a decision.' }));
    for (const a of pending) {
      const argv = argvOf(a);
      const box = el('article', { class: 'card', id: 'approval-' + a.id, 'aria-labelledby': 'approval-h-' + a.id });
      box.append(el('h2', { id: 'approval-h-' + a.id, text: 'Request #' + a.id + ': ' + a.action }));
      box.append(table([['Field', (r) => r[0]], ['Value', (r) => r[1], 'text']], [
        ['Requested by', a.requester], ['Reason', a.reason], ['Created', time(a.created_ms)], ['Expires', time(a.expires_ms)]],
        'Request'));
      box.append(el('p', { text: 'What will run when approved:' }));
      box.append(el('pre', { class: 'argv', text: argv ? 'torwart ' + argv.map((x) => /^[\w.,:=/@+-]+$/.test(x) ? x : JSON.stringify(x)).join(' ') : a.params }));
      box.append(form('decide-' + a.id, [['reason-' + a.id, 'Decision reason', 'text', {}]], 'Approve', (fm) => decide(a, true, fm)));
      const rej = el('button', { type: 'button', class: 'danger', id: 'reject-' + a.id, text: 'Reject request #' + a.id });
      rej.addEventListener('click', () => decide(a, false, box.querySelector('form')));
      box.append(rej);
      kids.push(box);
    }
    kids.push(el('h2', { text: 'Decided' }));
    kids.push(table([['Id', (a) => a.id], ['Action', (a) => a.action], ['Requester', (a) => a.requester],
      ['State', (a) => a.state], ['Decided by', (a) => a.decided_by], ['Reason', (a) => a.decision_reason, 'text']],
      d.approvals.filter((a) => a.state !== 'pending').slice(-50).reverse(), 'Decided approvals'));
    view('Approvals', ...kids);
  }

  async function decide(a, approve, fm) {
    const reason = fm ? fm.elements['reason-' + a.id].value.trim() : '';
    try {
      const r = await api('POST', '/v1/approvals/' + a.id + '/' + (approve ? 'approve' : 'reject'), reason ? { reason } : {});
      const d = r.data || {};
      let msg = 'Request #' + a.id + (approve ? ' approved' : ' rejected');
      if (d.command) {
        const c = commandResult({ code: 200, data: d });
        msg += '; ' + c.text;
        const m = /fleet order (\d+)/.exec(c.out || '');
        status(msg, !c.ok);
        if (m) { location.hash = '#/fleet/' + m[1]; return; }
      } else status(msg + (d.state ? ' (' + d.state + ')' : ''));
      route();
    } catch (e) { status(e.message, true); }
  }

  async function certificates(q) {
    const params = new URLSearchParams(q);
    const f = form('cert-search', [['cert-text', 'Serial, subject or owner', 'search', { value: params.get('q') || '' }],
      ['cert-status', 'Status', 'select', { options: [['', 'any'], ['valid', 'valid'], ['revoked', 'revoked']] }]],
    'Search', (fm) => {
      const p = new URLSearchParams();
      if (fm.elements['cert-text'].value.trim()) p.set('q', fm.elements['cert-text'].value.trim());
      if (fm.elements['cert-status'].value) p.set('status', fm.elements['cert-status'].value);
      location.hash = '#/certificates?' + p.toString();
    });
    f.elements['cert-status'].value = params.get('status') || '';
    const qs = new URLSearchParams({ limit: '500' });
    if (params.get('status')) qs.set('status', params.get('status'));
    const d = await tryGet('/v1/certificates?' + qs.toString());
    let rows = d.certificates || [];
    const t = (params.get('q') || '').toLowerCase();
    if (t) rows = rows.filter((c) => [c.serial, c.subject, c.owner].some((x) => String(x || '').toLowerCase().includes(t)));
    view('Certificates', f, d._error ? errorBox(d._error) : table([
      ['Serial', (c) => link('#/certificate/' + encodeURIComponent(c.serial), c.serial)], ['Subject', (c) => c.subject, 'text'],
      ['Owner', (c) => c.owner_kind + ' ' + c.owner], ['Usage', (c) => c.usage], ['Status', (c) => c.status],
      ['Not after', (c) => time(c.not_after * 1000)]], rows, 'Certificates'));
  }

  async function certificate(serial) {
    const d = await tryGet('/v1/certificates/' + encodeURIComponent(serial));
    if (d._error) { view('Certificate ' + serial, errorBox(d._error)); return; }
    const c = d.certificate || d;
    const kids = [table([['Field', (r) => r[0]], ['Value', (r) => r[1], 'text']], Object.entries(c).map(([k, v]) =>
      [k, /_ms$/.test(k) ? time(v) : (k === 'not_before' || k === 'not_after') ? time(v * 1000) : v]), 'Certificate')];
    if (c.status !== 'revoked') kids.push(el('h2', { text: 'Revoke' }), el('p', { text:
      'Revocation is a four-eyes request where the policy says so: a second operator approves it under Approvals.' }),
    form('revoke-form', [['revoke-reason', 'CRL reason', 'select', { options: [['keyCompromise', 'keyCompromise'],
      ['superseded', 'superseded'], ['cessationOfOperation', 'cessationOfOperation'], ['affiliationChanged', 'affiliationChanged'],
      ['unspecified', 'unspecified']] }], ['revoke-why', 'Why', 'text', { required: true }]], 'Request revocation', async (fm) => {
      try {
        const r = commandResult(await api('POST', '/v1/certificates/' + encodeURIComponent(serial) + '/revoke',
          { reason: fm.elements['revoke-reason'].value, why: fm.elements['revoke-why'].value.trim() }));
        status(r.text, !r.ok);
        route();
      } catch (e) { status(e.message, true); }
    }));
    view('Certificate ' + serial, ...kids);
  }

  let lastVerify = '';

  async function adminLog(q) {
    const params = new URLSearchParams(q);
    const cursor = params.get('cursor') || '';
    const [d, heads, ver] = await Promise.all([tryGet('/v1/admin-log?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')),
      tryGet('/v1/admin-log/heads?limit=500'), tryGet('/v1/admin-log/verified')]);
    const verifyBtn = el('button', { type: 'button', id: 'verify-log', text: 'Verify the admin log now' });
    const result = el('p', { id: 'verify-result', role: 'status', text: lastVerify || 'Not verified in this session.' });
    verifyBtn.addEventListener('click', async () => {
      result.textContent = 'verifying...';
      try {
        const r = commandResult(await api('POST', '/v1/commands', { argv: ['audit', 'verify'] }));
        lastVerify = (r.ok ? 'verified: ' : 'VERIFICATION FAILED: ') + r.text.trim() + ' (' + time(Date.now()) + ')';
        result.textContent = clean(lastVerify);
        result.className = r.ok ? 'ok' : 'error';
      } catch (e) { result.textContent = clean(e.message); result.className = 'error'; }
    });
    const pos = el('p', { id: 'verify-position', text: ver._error ? ver._error.message : ver.verified
      ? 'The ' + ver.verifier + ' verified the log up to signed head ' + ver.tree_size + ' at ' + time(ver.verified_ms) + '.'
      : 'The worker has not verified a signed head yet.' });
    const kids = [el('h2', { text: 'Verification' }), pos, verifyBtn, result, el('h2', { text: 'Signed heads' })];
    kids.push(heads.heads ? table([['Tree size', (h) => h.tree_size], ['Time', (h) => h.time], ['Root', (h) => h.root],
      ['Key', (h) => h.key]], heads.heads.slice(-10).reverse(), 'Signed heads') : errorBox(heads._error));
    kids.push(el('h2', { text: 'Entries' }));
    if (d._error) kids.push(errorBox(d._error));
    else {
      kids.push(table([['Seq', (e) => e.seq], ['Time', (e) => e.time], ['Actor', (e) => e.actor], ['Action', (e) => e.action],
        ['Object', (e) => e.object, 'text'], ['Result', (e) => e.result], ['Detail', (e) => e.detail, 'text']], d.entries, 'Admin log'));
      if (d.next) kids.push(link('#/log?cursor=' + encodeURIComponent(d.next), 'Next page'));
    }
    view('Admin log', ...kids);
  }

  /* ---------------- routing and login ---------------- */

  const routes = [
    [/^#\/dashboard$/, dashboard, 'dashboard'], [/^#\/gateways(?:\?(.*))?$/, gateways, 'gateways'],
    [/^#\/gateway\/(.+)$/, (id) => gateway(decodeURIComponent(id)), 'gateways'],
    [/^#\/fleet$/, fleet, 'fleet'], [/^#\/fleet\/(\d+)$/, fleetOrder, 'fleet'],
    [/^#\/approvals$/, approvals, 'approvals'], [/^#\/alarms(?:\?(.*))?$/, alarms, 'alarms'],
    [/^#\/certificates(?:\?(.*))?$/, certificates, 'certificates'],
    [/^#\/certificate\/(.+)$/, (s) => certificate(decodeURIComponent(s)), 'certificates'],
    [/^#\/log(?:\?(.*))?$/, adminLog, 'log']];

  async function route() {
    if (poll) { clearTimeout(poll); poll = null; }
    if (!session) return;
    const h = location.hash || '#/dashboard';
    for (const [re, fn, nav] of routes) {
      const m = re.exec(h);
      if (!m) continue;
      for (const a of document.querySelectorAll('nav a')) a.removeAttribute('aria-current');
      const n = $('nav-' + nav);
      if (n) n.setAttribute('aria-current', 'page');
      try { await fn(m[1] || ''); } catch (e) { if (e.code !== 401) view('Error', errorBox(e)); }
      return;
    }
    location.hash = '#/dashboard';
  }

  function showLogin(msg) {
    session = null;
    if (poll) { clearTimeout(poll); poll = null; }
    $('nav').hidden = true;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('view').replaceChildren();
    $('login-view').hidden = false;
    status(msg || '', !!msg);
    $('login-secret').focus();
  }

  function loggedIn(s) {
    session = s;
    $('login-view').hidden = true;
    $('nav').hidden = false;
    $('logout').hidden = false;
    $('who').textContent = clean(s.operator + ' (' + (s.tenant || 'all tenants') + ')');
    status('');
    route().then(() => $('main').focus());
  }

  async function start() {
    $('login-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const secret = $('login-secret').value;
      const body = $('login-factor').value === 'totp' ? { totp: secret } : { password: secret };
      $('login-secret').value = '';
      try {
        const r = await fetch('/console/login', { method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        const d = await r.json().catch(() => null);
        if (!r.ok) { showLogin((d && (d.detail || d.title)) || ('login refused (HTTP ' + r.status + ')')); return; }
        loggedIn(d);
      } catch (e) { showLogin('login failed: ' + e.message); }
    });
    /* A navigation, not a form submission: form-action 'self' would stop the redirect
     * to the identity provider; /console/saml/start sends the browser there. */
    $('saml-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.assign('/console/saml/start?context=' + encodeURIComponent($('saml-context').value));
    });
    $('logout').addEventListener('click', async () => {
      try { await api('POST', '/console/logout', {}); } catch (e) { /* the session is gone either way */ }
      showLogin('Logged out.');
    });
    window.addEventListener('hashchange', route);
    const r = await fetch('/console/session', { credentials: 'same-origin' });
    if (r.ok) loggedIn(await r.json()); else showLogin('');
  }

  document.addEventListener('DOMContentLoaded', start);
})();
