// The agent's flags through the real CLI: the mistakes are one line and exit code 2, before any
// recording starts. The privilege check comes first, so these need root. About 3 s.
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { requiresRoot } from '../helpers/requires.js';

if (requiresRoot(t, 'record checks its privileges before its flags')) {
  const cases: [string[], RegExp][] = [
    [['--push-interval', '5'], /^profile: --push-interval needs --push URL\n$/],
    [['--push', 'http://127.0.0.1:1', '-o', 'x.folded'], /^profile: the agent .* writes no file: leave out -o, or give --duration for one profile\n$/],
    [['--push', 'http://127.0.0.1:1', '--push-interval', '0.5'], /^profile: --push-interval must be from 1 to 3600 seconds, not "0.5"\n$/],
    [['--push', 'http://127.0.0.1:1', '--spool-size', '12Q'], /^profile: --spool-size: expected a size such as 256M, not "12Q"\n$/],
    [['--push', 'ftp://example'], /^profile: --server must be an http or https URL, not ftp:\n$/],
    [['--push', 'http://127.0.0.1:1', '--name', 'app{env}'], /^profile: --name: label "env" is not key=value\n$/],
  ];
  for (const [args, message] of cases) {
    t.test(args.join(' '), async (t) => {
      const result = await runCli(['record', ...args]);
      t.equal(result.code, 2, 'exit code 2');
      t.match(result.stderr, message);
      t.equal(result.stdout, '', 'nothing on stdout');
    });
  }
}
