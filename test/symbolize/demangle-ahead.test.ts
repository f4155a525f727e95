// Names demangled on the worker thread are the ones the main thread's demangler makes, on node's
// own C++ symbols; and a run with few new mangled names starts no thread.
import t from 'tap';
import { openFile } from '../../src/host/index.js';
import { loadDemangler, isMangled } from '../../src/symbolize/demangle.js';
import { DEMANGLE_AHEAD_MIN, demangleAhead } from '../../src/symbolize/demangle-ahead.js';
import { ElfFile } from '../../src/symbolize/elf/file.js';
import { readSymbols } from '../../src/symbolize/elf/symbols.js';

function nodeMangledNames(): string[] {
  const source = openFile(process.execPath);
  if (!source) throw new Error(`${process.execPath}: unreadable`);
  try {
    const symbols = readSymbols([new ElfFile(source)]);
    const names = new Set<string>();
    for (let i = 0; i < symbols.length; i++) {
      const name = symbols.names.name(i);
      if (isMangled(name)) names.add(name);
    }
    return [...names];
  } finally {
    source.close();
  }
}

t.test('the worker demangles as the main thread does', async (t) => {
  const all = nodeMangledNames();
  t.ok(all.length > DEMANGLE_AHEAD_MIN, `node has ${all.length} mangled names`);
  const names = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / 4000)) === 0);
  const ahead = demangleAhead((step, visit) => names.forEach((name, i) => i % step === 0 && visit(name)));
  t.ok(ahead, 'a thread for thousands of names');
  t.teardown(() => ahead?.close());
  const local = await loadDemangler();
  const last = names[names.length - 1]!;
  const deadline = Date.now() + 60_000;
  while (ahead!.get(last) === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const differing = names.filter((name) => ahead!.get(name) !== local.demangle(name));
  t.same(differing.slice(0, 10), [], `all ${names.length} names as the main thread demangles them`);
});

t.test('few names or known addresses: no thread', async (t) => {
  const names = nodeMangledNames().slice(0, DEMANGLE_AHEAD_MIN - 1);
  t.equal(demangleAhead((step, visit) => names.forEach((name, i) => i % step === 0 && visit(name))), undefined, 'too few names');
  t.equal(demangleAhead(() => undefined), undefined, 'nothing new');
  t.equal(demangleAhead((step, visit) => names.forEach(() => visit(undefined))), undefined, 'no symbols');
});
