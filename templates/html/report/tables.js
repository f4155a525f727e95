// The tables under the graph: hottest functions (by self time, top 50 with "show all", sortable),
// processes, the biggest changes of a differential report, and the run's metadata. Every name
// reaches the page through textContent, never as markup.

export const TOP_ROWS = 50;

export const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
export const pct = (part, whole) => (whole > 0 ? ((100 * part) / whole).toFixed(2) : '0.00') + '%';

// The same rule as isPlaceholder in src/render/html/data.ts.
export const isPlaceholder = (name) => /^\[[^\]]*\]$/.test(name) || name === '-' || name === '--' || name === '(merged)';

export function cell(row, text, numeric) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  row.appendChild(td);
}

/**
 * [name index, kind index, self, total] of every function under column `base`, from the tree:
 * self summed over its frames, total over its outermost frames (recursion counted once).
 */
export function functionsUnder(tree, names, kinds, base) {
  const { n, k, t, self, parent, size } = tree;
  const selfOf = new Float64Array(names.length);
  const totalOf = new Float64Array(names.length);
  const kindOf = new Int32Array(names.length).fill(-1);
  const onPath = new Int32Array(names.length);
  const open = [];
  const skip = new Uint8Array(kinds.length);
  kinds.forEach((kind, index) => (skip[index] = kind.key === 'process' || kind.key === 'merged' ? 1 : 0));
  for (let i = base, end = base + size[base]; i < end; i++) {
    while (open.length > 0 && open[open.length - 1] !== parent[i]) onPath[n[open.pop()]]--;
    if (!skip[k[i]]) {
      selfOf[n[i]] += self[i];
      if (onPath[n[i]] === 0) totalOf[n[i]] += t[i];
      if (kindOf[n[i]] < 0) kindOf[n[i]] = k[i];
    }
    onPath[n[i]]++;
    open.push(i);
  }
  const rows = [];
  for (let name = 0; name < names.length; name++) {
    if (kindOf[name] >= 0 && totalOf[name] > 0 && !isPlaceholder(names[name])) rows.push([name, kindOf[name], selfOf[name], totalOf[name]]);
  }
  return rows.sort((a, b) => b[2] - a[2]);
}

/** The hottest-functions table: `show(rows, whole)` fills it; clicks on a row call `onPick(name index, row)`. */
export function functionsTable(table, showAll, names, kinds, onPick) {
  const body = table.tBodies[0];
  const sort = { key: 'self', descending: true };
  let rows = [];
  let whole = 1;
  let expanded = false;
  const value = {
    name: (r) => names[r[0]],
    kind: (r) => kinds[r[1]].label,
    self: (r) => r[2],
    total: (r) => r[3],
  };
  function render() {
    const get = value[sort.key];
    const sorted = rows.slice().sort((a, b) => {
      const x = get(a);
      const y = get(b);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.descending ? -order : order;
    });
    const shown = expanded ? sorted : sorted.slice(0, TOP_ROWS);
    const fragment = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement('tr');
      tr.dataset.name = String(r[0]);
      cell(tr, names[r[0]]);
      cell(tr, kinds[r[1]].label);
      cell(tr, fmt.format(r[2]), true);
      cell(tr, pct(r[2], whole), true);
      cell(tr, fmt.format(r[3]), true);
      cell(tr, pct(r[3], whole), true);
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    showAll.hidden = rows.length <= TOP_ROWS;
    showAll.textContent = expanded ? `Show the top ${TOP_ROWS}` : `Show all ${rows.length.toLocaleString('en-US')}`;
    for (const th of table.tHead.rows[0].cells) {
      if (th.dataset.key === sort.key) th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
  }
  table.tHead.addEventListener('click', (event) => {
    const th = event.target.closest('th');
    if (!th || !th.dataset.key) return;
    const key = th.dataset.key;
    if (sort.key === key) sort.descending = !sort.descending;
    else {
      sort.key = key;
      sort.descending = key === 'self' || key === 'total';
    }
    render();
  });
  showAll.addEventListener('click', () => {
    expanded = !expanded;
    render();
  });
  body.addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (!tr) return;
    selectRow(body, tr);
    onPick(Number(tr.dataset.name));
  });
  return {
    show(newRows, newWhole) {
      rows = newRows;
      whole = newWhole;
      render();
    },
  };
}

export function selectRow(body, tr) {
  for (const row of body.querySelectorAll('tr.selected')) row.classList.remove('selected');
  if (tr) tr.classList.add('selected');
}

export function fillProcesses(body, data) {
  const fragment = document.createDocumentFragment();
  for (const [name, , weight] of data.processes) {
    const tr = document.createElement('tr');
    tr.dataset.name = String(name);
    cell(tr, data.names[name]);
    cell(tr, fmt.format(weight), true);
    cell(tr, pct(weight, data.total), true);
    fragment.appendChild(tr);
  }
  body.replaceChildren(fragment);
}

export function fillChanges(section, body, data) {
  if (!data.changes) return;
  section.hidden = false;
  const fragment = document.createDocumentFragment();
  for (const [name, kind, before, after] of data.changes) {
    const tr = document.createElement('tr');
    tr.dataset.name = String(name);
    cell(tr, data.names[name]);
    cell(tr, data.kinds[kind].label);
    cell(tr, `${fmt.format(before)} (${pct(before, data.otherTotal)})`, true);
    cell(tr, `${fmt.format(after)} (${pct(after, data.total)})`, true);
    const change = (100 * after) / Math.max(1, data.total) - (100 * before) / Math.max(1, data.otherTotal);
    cell(tr, (change >= 0 ? '+' : '') + change.toFixed(2) + ' pp', true);
    fragment.appendChild(tr);
  }
  body.replaceChildren(fragment);
}

export function fillRun(data, $) {
  const meta = $('meta');
  for (const [label, value] of data.meta) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    meta.append(dt, dd);
  }
  if (data.dropped.length > 0) {
    $('dropped-section').hidden = false;
    for (const [why, count] of data.dropped) {
      const tr = document.createElement('tr');
      cell(tr, why);
      cell(tr, fmt.format(count), true);
      $('dropped').tBodies[0].appendChild(tr);
    }
  }
  if (data.stackQuality && data.stackQuality.length > 0) {
    $('stack-quality-section').hidden = false;
    const share = (part, whole) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '');
    for (const [binary, samples, tables, framePointers, stopped, why] of data.stackQuality) {
      const tr = document.createElement('tr');
      cell(tr, binary);
      cell(tr, fmt.format(samples), true);
      cell(tr, share(tables, samples), true);
      cell(tr, share(framePointers, samples), true);
      cell(tr, share(stopped, samples), true);
      cell(tr, why);
      $('stack-quality').tBodies[0].appendChild(tr);
    }
  }
  if (data.notes.length > 0) {
    $('notes-section').hidden = false;
    for (const note of data.notes) {
      const li = document.createElement('li');
      li.textContent = note;
      $('notes').appendChild(li);
    }
  }
}

/** Legend entries: [label, css colour]. */
export function fillLegend(list, entries) {
  for (const [label, colour] of entries) {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colour;
    li.append(swatch, document.createTextNode(label));
    list.appendChild(li);
  }
}
