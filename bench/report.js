// The results of the benchmarks as data, and the files made from them. A benchmark hands its rows
// to `emit`; bench/run.js stores them in bench/results.json (the last run of every benchmark) and
// rewrites that benchmark's section of docs/benchmarks.md and the README's short table from it, so
// that no figure in either file is typed by hand and a section always says when, where and how its
// figures were taken.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Where bench/run.js asks a benchmark process to leave its result (JSON). */
export const RESULT_FILE_VARIABLE = 'PROFILE_BENCH_RESULT_FILE';

const cell = (value) => String(value ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ') || '—';
const met = (value) => (value === true ? 'yes' : value === false ? 'no' : '—');

/** A Markdown table of rows: what, ours, peer, ratio, target, met. */
export function rowsTable(rows) {
  const lines = ['| what | ours | peer | ratio | target | met |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${cell(r.what)} | ${cell(r.ours)} | ${cell(r.peer)} | ${cell(r.ratio)} | ${cell(r.target)} | ${met(r.met)} |`);
  return lines.join('\n');
}

/**
 * Called by a benchmark with { title, rows, notes }. Prints the table (a benchmark run on its own
 * still shows what it measured) and, under bench/run.js, leaves the result where run.js reads it.
 */
export function emit(result) {
  console.log(`\n## ${result.title}\n\n${rowsTable(result.rows)}\n${(result.notes ?? []).map((n) => `\n- ${n}`).join('')}`);
  const file = process.env[RESULT_FILE_VARIABLE];
  if (file) writeFileSync(file, JSON.stringify(result));
}

const startMarker = (name) => `<!-- bench:${name}:start -->`;
const endMarker = (name) => `<!-- bench:${name}:end -->`;

/**
 * The Markdown section of one benchmark's run: run = { name, date, commit, loadBefore, loadAfter,
 * command }, result = { title, rows, notes }. Framed by markers so that the next run replaces it.
 */
export function renderSection(run, result) {
  const lines = [
    startMarker(run.name),
    `## ${result.title}`,
    '',
    `Run on ${run.date} at commit ${run.commit}; load average (1, 5, 15 min) ${run.loadBefore} before, ${run.loadAfter} after.`,
    '',
    `Command: \`${run.command}\``,
    '',
    rowsTable(result.rows),
  ];
  if (result.notes?.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  lines.push(endMarker(run.name));
  return lines.join('\n');
}

/**
 * `text` with the section between `begin` and `end` markers replaced by `section` (markers
 * included in `section`), or with `section` appended when the markers are absent. Everything else
 * is left byte for byte.
 */
export function replaceBetween(text, begin, end, section) {
  const from = text.indexOf(begin);
  const to = from < 0 ? -1 : text.indexOf(end, from);
  if (from >= 0 && to < 0) throw new Error(`${begin} has no ${end}`);
  if (from < 0) return `${text}${text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n'}${section}\n`;
  return text.slice(0, from) + section + text.slice(to + end.length);
}

/** `text` with the section of benchmark `name` replaced by `section` (from renderSection). */
export function replaceSection(text, name, section) {
  return replaceBetween(text, startMarker(name), endMarker(name), section);
}

export const README_START = '<!-- bench:start -->';
export const README_END = '<!-- bench:end -->';

/** The README's short table: the rows marked `readme` of every stored result, by benchmark name. */
export function readmeBlock(results) {
  const lines = [README_START, '| what | profile | peer | run |', '| --- | --- | --- | --- |'];
  for (const name of Object.keys(results).sort()) {
    const { run, result } = results[name];
    for (const r of result.rows.filter((x) => x.readme)) {
      const what = typeof r.readme === 'string' ? r.readme : r.what;
      lines.push(`| ${cell(what)} | ${cell(r.ours)} | ${cell(r.peer)} | ${cell(run.date)} |`);
    }
  }
  lines.push(README_END);
  return lines.join('\n');
}

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
export function writeAtomic(path, text) {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Stores one run (paths = { results, docs, readme }): its entry in the JSON store, its section of
 * the benchmarks document and the README's table, each file written atomically.
 */
export function record(paths, run, result) {
  let results = {};
  try {
    results = JSON.parse(readFileSync(paths.results, 'utf8'));
  } catch (error) {
    if (error.code !== 'ENOENT') throw new Error(`${paths.results}: ${error.message}`);
  }
  results[run.name] = { run, result };
  const sorted = Object.fromEntries(Object.keys(results).sort().map((k) => [k, results[k]]));
  writeAtomic(paths.results, `${JSON.stringify(sorted, null, 2)}\n`);
  writeAtomic(paths.docs, replaceSection(readFileSync(paths.docs, 'utf8'), run.name, renderSection(run, result)));
  if (paths.readme) writeAtomic(paths.readme, replaceBetween(readFileSync(paths.readme, 'utf8'), README_START, README_END, readmeBlock(sorted)));
}
