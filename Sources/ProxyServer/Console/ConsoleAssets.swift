/// The console's static files, built into the binary (nothing is fetched at
/// run time, nothing comes from elsewhere). No inline script or style: the
/// Content-Security-Policy (`ConsoleRoutes`) forbids both. Everything a
/// client stored (task prompts, log messages, metadata, agent names) is put
/// into the page as text (`textContent`), never as markup.
enum ConsoleAssets {
    struct File {
        let body: String
        let type: String
    }

    static let files: [String: File] = [
        "console.js": File(body: consoleScript, type: "text/javascript; charset=utf-8"),
        "login.js": File(body: loginScript, type: "text/javascript; charset=utf-8"),
        "console.css": File(body: styleSheet, type: "text/css; charset=utf-8"),
    ]

    /// The file a `/console/<name>` path names, if any.
    static func file(at path: String) -> File? {
        path.hasPrefix("/console/") ? files[String(path.dropFirst("/console/".count))] : nil
    }

    static let loginPage = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>storage-proxy console: log in</title><link rel="stylesheet" href="/console/console.css"></head>
        <body class="login"><main>
        <h1>storage-proxy</h1>
        <form id="login"><label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        <button type="submit">Log in</button><p id="login-error" class="error" role="alert"></p></form>
        </main><script src="/console/login.js"></script></body></html>
        """#

    static let consolePage = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>storage-proxy console</title><link rel="stylesheet" href="/console/console.css"></head>
        <body>
        <header><h1>storage-proxy</h1><span id="edition"></span><span id="version"></span>
        <nav><a href="#overview" id="nav-overview">Overview</a><a href="#tasks" id="nav-tasks">Tasks</a><a href="#workers" id="nav-workers">Workers</a><a href="#events" id="nav-events">Events</a><a href="#vectors" id="nav-vectors">Vectors</a><a href="#slow" id="nav-slow">Slow calls</a><a href="#config" id="nav-config">Configuration</a></nav>
        <button id="logout" type="button">Log out</button></header>
        <main>
        <section id="overview">
          <div class="cards">
            <div class="card"><h2>Requests/s</h2><p id="rate-requests">–</p></div>
            <div class="card"><h2>Errors/s</h2><p id="rate-errors">–</p></div>
            <div class="card"><h2>p50 / p99</h2><p id="latency">–</p></div>
            <div class="card"><h2>Connections</h2><p id="connections">–</p></div>
            <div class="card"><h2>Storage</h2><p id="storage-state">–</p></div>
            <div class="card"><h2>Cache</h2><p id="cache-state">–</p></div>
            <div class="card"><h2>Transactions</h2><p id="transactions">–</p></div>
            <div class="card"><h2>Subscriptions</h2><p id="subscriptions">–</p></div>
            <div class="card"><h2>Memory</h2><p id="memory">–</p></div>
          </div>
          <h2>Requests/s, the last two minutes</h2>
          <svg id="chart" viewBox="0 0 240 60" preserveAspectRatio="none" role="img" aria-label="requests per second"><polyline id="chart-line" points=""></polyline></svg>
          <h2>Tasks by status</h2><table id="task-counts"><tbody></tbody></table>
          <h2>Tasks by agent</h2><table id="agent-counts"><tbody></tbody></table>
          <h2>Methods</h2>
          <table id="methods"><thead><tr><th>method</th><th>calls</th><th>errors</th><th>p50 µs</th><th>p99 µs</th></tr></thead><tbody></tbody></table>
        </section>
        <section id="tasks" hidden>
          <form id="task-filter"><input id="filter-agent" placeholder="agent"><input id="filter-status" placeholder="status">
          <button type="submit">Filter</button></form>
          <table id="task-list"><thead><tr><th>id</th><th>agent</th><th>status</th><th>next run</th><th>lease owner</th><th>lease until</th></tr></thead><tbody></tbody></table>
          <p><button id="page-prev" type="button">Previous</button> <span id="page-label"></span> <button id="page-next" type="button">Next</button></p>
          <div id="task-detail" hidden><h2 id="task-title"></h2><pre id="task-fields"></pre><h2>Logs</h2>
          <table id="task-logs"><thead><tr><th>time</th><th>level</th><th>message</th></tr></thead><tbody></tbody></table></div>
        </section>
        <section id="workers" hidden>
          <h2>Workers holding leases</h2>
          <table id="worker-list"><thead><tr><th>worker</th><th>tasks</th><th>next lease end</th></tr></thead><tbody></tbody></table>
          <h2>Running tasks</h2>
          <table id="lease-list"><thead><tr><th>task</th><th>agent</th><th>worker</th><th>time left</th></tr></thead><tbody></tbody></table>
        </section>
        <section id="events" hidden>
          <p><button id="events-pause" type="button">Pause</button> <span id="events-state"></span></p>
          <table id="event-list"><thead><tr><th>topic</th><th>op</th><th>task</th><th>agent</th><th>status or message</th></tr></thead><tbody></tbody></table>
        </section>
        <section id="vectors" hidden>
          <table id="collection-list"><thead><tr><th>collection</th><th>documents</th><th>dimension</th><th>metric</th></tr></thead><tbody></tbody></table>
          <form id="vector-search"><select id="search-collection"></select><input id="search-query" placeholder="words to search for">
          <button type="submit">Search</button></form>
          <table id="search-hits"><thead><tr><th>id</th><th>score</th><th>document</th><th>metadata</th></tr></thead><tbody></tbody></table>
          <h2>In memory</h2><pre id="vector-status"></pre>
        </section>
        <section id="slow" hidden>
          <p>The last calls slower than <code>server.slow_log_ms</code>, newest first.</p>
          <table id="slow-list"><thead><tr><th>at</th><th>method</th><th>ms</th><th>outcome</th><th>client</th></tr></thead><tbody></tbody></table>
        </section>
        <section id="config" hidden>
          <p>In effect now (a reload's changes included); passwords, tokens and URLs only as whether they are set.</p>
          <p><button id="reload-preview" type="button">What would a reload change?</button> <span id="reload-note"></span></p>
          <table id="reload-changes"><thead><tr><th>key</th><th>now</th><th>after a reload</th><th>applies</th></tr></thead><tbody></tbody></table>
          <table id="config-list"><thead><tr><th>key</th><th>value</th></tr></thead><tbody></tbody></table>
        </section>
        <p id="error" class="error" role="alert"></p>
        </main><script src="/console/console.js"></script></body></html>
        """#

    static let loginScript = #"""
        'use strict';
        document.getElementById('login').addEventListener('submit', async (event) => {
          event.preventDefault();
          const answer = await fetch('/console/login', {
            method: 'POST', credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'login' },
            body: JSON.stringify({ token: document.getElementById('token').value }),
          });
          if (answer.ok) { window.location.replace('/console/'); return; }
          document.getElementById('login-error').textContent = answer.status === 401 ? 'Wrong token.' : (await answer.text());
        });
        """#

    static let consoleScript = #"""
        'use strict';
        // Everything stored by clients is shown with textContent: never parsed as markup.
        const $ = (id) => document.getElementById(id);
        let csrf = '';
        const PAGE = 50;
        let page = 0, openTask = null, previous = null, taskStream = null, eventStream = null, paused = false, lastStatus = null;
        const history = [];

        async function rpc(method, params) {
          const answer = await fetch('/', {
            method: 'POST', credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params || {} }),
          });
          if (answer.status === 401 || answer.status === 403) { window.location.replace('/console/'); throw new Error('logged out'); }
          const reply = await answer.json();
          if (reply.error) throw new Error(method + ': ' + reply.error.message);
          return reply.result;
        }

        function cell(row, text) { const td = document.createElement('td'); td.textContent = text == null ? '' : String(text); row.appendChild(td); return td; }
        function fill(tbody, rows, columns, onClick) {
          tbody.replaceChildren();
          for (const item of rows) {
            const tr = document.createElement('tr');
            for (const column of columns) cell(tr, typeof column === 'function' ? column(item) : item[column]);
            if (onClick) { tr.tabIndex = 0; tr.addEventListener('click', () => onClick(item)); }
            tbody.appendChild(tr);
          }
        }
        function showError(error) { $('error').textContent = error ? String(error.message || error) : ''; }

        function update(status) {
          lastStatus = status;
          if (window.location.hash === '#slow' || window.location.hash === '#config') showStatusPages();
          const now = performance.now();
          const requests = status.requests;
          $('edition').textContent = status.storage.type === 'postgresql' ? 'Enterprise Edition (PostgreSQL)' : 'Personal Edition (SQLite)';
          $('version').textContent = 'v' + status.version;
          if (previous) {
            const seconds = (now - previous.at) / 1000;
            const rate = Math.max(0, (requests.total - previous.total) / seconds);
            $('rate-requests').textContent = rate.toFixed(1);
            $('rate-errors').textContent = Math.max(0, (requests.errors - previous.errors) / seconds).toFixed(1);
            history.push(rate);
            if (history.length > 120) history.shift();
            drawChart();
          }
          previous = { at: now, total: requests.total, errors: requests.errors };
          const methods = Object.entries(requests.by_method).map(([name, f]) => Object.assign({ name }, f)).sort((a, b) => b.calls - a.calls);
          const busiest = methods[0];
          $('latency').textContent = busiest ? busiest.p50_us.toFixed(0) + ' / ' + busiest.p99_us.toFixed(0) + ' µs (' + busiest.name + ')' : '–';
          $('connections').textContent = status.connections.open + ' open';
          $('storage-state').textContent = status.storage.type + ': ' + (status.storage.state || 'up');
          $('cache-state').textContent = status.cache.type + ': ' + (status.cache.state || 'up');
          $('transactions').textContent = status.transactions.open + ' open';
          $('subscriptions').textContent = String(status.events.subscriptions);
          $('memory').textContent = status.memory ? (status.memory.rss_bytes / 1048576).toFixed(0) + ' MiB' : '–';
          fill($('methods').querySelector('tbody'), methods, ['name', 'calls', 'errors', (m) => m.p50_us.toFixed(0), (m) => m.p99_us.toFixed(0)]);
        }

        function drawChart() {
          const top = Math.max(1, ...history);
          const points = history.map((v, i) => (i * 2) + ',' + (60 - (v / top) * 56).toFixed(1));
          $('chart-line').setAttribute('points', points.join(' '));
        }

        async function countTasks() {
          const [byStatus, byAgent] = await Promise.all([rpc('count_tasks', { group_by: 'status' }), rpc('count_tasks', { group_by: 'agent_name' })]);
          const rows = Object.entries(byStatus).map(([status, count]) => ({ status, count }));
          rows.push({ status: 'all', count: rows.reduce((n, r) => n + r.count, 0) });
          fill($('task-counts').querySelector('tbody'), rows, ['status', 'count']);
          const agents = Object.entries(byAgent).slice(0, 20).map(([agent, count]) => ({ agent, count }));
          fill($('agent-counts').querySelector('tbody'), agents, ['agent', 'count']);
        }

        async function listTasks() {
          const params = { limit: PAGE, offset: page * PAGE };
          if ($('filter-agent').value) params.agent_name = $('filter-agent').value;
          if ($('filter-status').value) params.status = $('filter-status').value;
          const tasks = await rpc('list_tasks', params);
          fill($('task-list').querySelector('tbody'), tasks, ['id', 'agent_name', 'status', 'next_run', 'lease_owner', 'lease_until'], openDetail);
          $('page-label').textContent = 'page ' + (page + 1);
          $('page-next').disabled = tasks.length < PAGE;
          $('page-prev').disabled = page === 0;
        }

        function showTask(task, id) {
          $('task-title').textContent = task ? task.id + ' (' + task.agent_name + ')' : id + ' (deleted)';
          $('task-fields').textContent = JSON.stringify(task, null, 2);
        }

        // A task's fields and last 100 logs, then its changes and new logs as they commit (its events stream).
        async function openDetail(task) {
          openTask = task.id;
          if (taskStream) taskStream.close();
          $('task-detail').hidden = false;
          showTask(await rpc('get_task', { task_id: openTask }), openTask);
          const logs = await rpc('query_logs', { task_id: openTask, limit: 100 });
          fill($('task-logs').querySelector('tbody'), logs, ['created_at', 'level', 'message']);
          taskStream = new EventSource('/console/events?topics=tasks,logs&task_id=' + encodeURIComponent(openTask));
          taskStream.addEventListener('change', (event) => {
            const change = JSON.parse(event.data).params;
            if (change.log) {
              const tbody = $('task-logs').querySelector('tbody');
              const tr = document.createElement('tr');
              for (const value of [change.log.created_at, change.log.level, change.log.message]) cell(tr, value);
              tbody.insertBefore(tr, tbody.firstChild);
              while (tbody.children.length > 100) tbody.lastChild.remove();
            } else if (change.task) {
              showTask(change.op === 'deleted' ? null : change.task, openTask);
            }
          });
        }

        async function listWorkers() {
          const running = await rpc('list_tasks', { status: 'running', limit: 1000 });
          const now = Date.now();
          const byWorker = new Map();
          for (const t of running) {
            const w = byWorker.get(t.lease_owner) || { worker: t.lease_owner, tasks: 0, next: null };
            w.tasks += 1;
            if (t.lease_until && (!w.next || t.lease_until < w.next)) w.next = t.lease_until;
            byWorker.set(t.lease_owner, w);
          }
          const left = (until) => until ? Math.round((Date.parse(until) - now) / 1000) + ' s' : '';
          fill($('worker-list').querySelector('tbody'), [...byWorker.values()], ['worker', 'tasks', (w) => w.next]);
          fill($('lease-list').querySelector('tbody'), running, ['id', 'agent_name', 'lease_owner', (t) => left(t.lease_until)]);
        }

        // The slow calls and the configuration: from the last status the live view brought.
        function showStatusPages() {
          if (!lastStatus) return;
          fill($('slow-list').querySelector('tbody'), lastStatus.slow_calls || [], ['at', 'method', 'ms', 'outcome', 'client']);
          const config = Object.entries(lastStatus.config || {}).map(([key, value]) => ({ key, value: JSON.stringify(value) }));
          fill($('config-list').querySelector('tbody'), config, ['key', 'value']);
        }

        async function previewReload() {
          const preview = await rpc('server.reload_preview', {});
          $('reload-note').textContent = preview.error || (preview.changes.length ? preview.changes.length + ' key(s) differ' : 'nothing would change');
          fill($('reload-changes').querySelector('tbody'), preview.changes,
               ['key', (c) => JSON.stringify(c.now), (c) => JSON.stringify(c.after), (c) => c.applies === 'restart' ? 'at a restart' : 'at a reload']);
        }

        async function listCollections() {
          const collections = await rpc('vector.list_collections', {});
          fill($('collection-list').querySelector('tbody'), collections, ['name', 'count', 'dimension', 'metric']);
          const select = $('search-collection');
          const chosen = select.value;
          select.replaceChildren();
          for (const c of collections) {
            const option = document.createElement('option');
            option.value = c.name;
            option.textContent = c.name;
            select.appendChild(option);
          }
          if (chosen) select.value = chosen;
          $('vector-status').textContent = lastStatus ? JSON.stringify(lastStatus.vectors, null, 2) : '';
        }

        async function searchVectors() {
          const params = { collection: $('search-collection').value, query: $('search-query').value, mode: 'keyword', top_k: 10 };
          const hits = await rpc('vector.search', params);
          fill($('search-hits').querySelector('tbody'), hits, ['id', (h) => h.score.toFixed(3), 'document', (h) => JSON.stringify(h.metadata)]);
        }

        function followEvents() {
          if (eventStream) return;
          eventStream = new EventSource('/console/events?topics=tasks,logs');
          eventStream.addEventListener('change', (event) => {
            if (paused) return;
            const change = JSON.parse(event.data).params;
            const tbody = $('event-list').querySelector('tbody');
            const tr = document.createElement('tr');
            const task = change.task || {};
            const log = change.log || {};
            const values = change.op === 'lagged' ? ['', 'lagged', '', '', JSON.stringify(change.dropped)]
              : [change.topic, change.op, task.id || log.task_id, task.agent_name || '', task.status || ((log.level || '') + ' ' + (log.message || ''))];
            for (const value of values) cell(tr, value);
            tbody.insertBefore(tr, tbody.firstChild);
            while (tbody.children.length > 200) tbody.lastChild.remove();
          });
          eventStream.onopen = () => { $('events-state').textContent = 'following'; };
        }

        function route() {
          const pages = ['overview', 'tasks', 'workers', 'events', 'vectors', 'slow', 'config'];
          const shown = pages.includes(window.location.hash.slice(1)) ? window.location.hash.slice(1) : 'overview';
          for (const name of pages) $(name).hidden = name !== shown;
          if (shown === 'vectors') listCollections().catch(showError);
          if (shown === 'slow' || shown === 'config') showStatusPages();
          if (shown === 'tasks') listTasks().catch(showError);
          if (shown === 'workers') listWorkers().catch(showError);
          if (shown === 'events') followEvents();
        }

        async function start() {
          const session = await (await fetch('/console/session', { credentials: 'same-origin' })).json();
          csrf = session.csrf;
          $('logout').addEventListener('click', async () => {
            await fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } });
            window.location.replace('/console/');
          });
          $('task-filter').addEventListener('submit', (e) => { e.preventDefault(); page = 0; listTasks().catch(showError); });
          $('page-next').addEventListener('click', () => { page += 1; listTasks().catch(showError); });
          $('page-prev').addEventListener('click', () => { page = Math.max(0, page - 1); listTasks().catch(showError); });
          window.addEventListener('hashchange', route);
          route();
          const live = new EventSource('/console/live');
          live.addEventListener('status', (event) => { try { update(JSON.parse(event.data)); showError(null); } catch (e) { showError(e); } });
          live.onerror = () => showError('live updates interrupted; retrying');
          countTasks().catch(showError);
          setInterval(() => countTasks().catch(showError), 5000);
          setInterval(() => { if (window.location.hash === '#workers') listWorkers().catch(showError); }, 2000);
          $('reload-preview').addEventListener('click', () => previewReload().catch(showError));
          $('vector-search').addEventListener('submit', (e) => { e.preventDefault(); searchVectors().catch(showError); });
          $('events-pause').addEventListener('click', () => {
            paused = !paused;
            $('events-pause').textContent = paused ? 'Resume' : 'Pause';
          });
        }
        start().catch(showError);
        """#

    static let styleSheet = #"""
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f4f6f9; }
        header { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; padding: .6em 1em; background: #1d2330; color: #fff; }
        header h1 { font-size: 1.1em; margin: 0; }
        header nav a { color: #cfe0ff; margin-right: 1em; }
        header button { margin-left: auto; }
        main { padding: 1em; max-width: 1200px; margin: 0 auto; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: .8em; }
        .card { background: #fff; border-radius: 6px; padding: .6em .8em; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
        .card h2 { font-size: .8em; margin: 0; color: #5a6477; font-weight: 600; }
        .card p { font-size: 1.4em; margin: .2em 0 0; overflow-wrap: anywhere; }
        h2 { font-size: 1em; }
        svg#chart { width: 100%; height: 80px; background: #fff; border-radius: 6px; }
        svg#chart polyline { fill: none; stroke: #2f6fed; stroke-width: 1; vector-effect: non-scaling-stroke; }
        table { border-collapse: collapse; width: 100%; background: #fff; }
        th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #e3e7ee; overflow-wrap: anywhere; }
        tr[tabindex] { cursor: pointer; }
        pre { background: #fff; padding: .6em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
        .error { color: #b00020; }
        body.login main { max-width: 360px; margin-top: 15vh; }
        body.login input, body.login button { display: block; width: 100%; margin: .4em 0; padding: .5em; }
        @media (max-width: 600px) { th:nth-child(n+4), td:nth-child(n+4) { display: none; } header button { margin-left: 0; } }
        """#
}
