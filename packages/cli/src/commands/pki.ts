import { join, relative } from 'node:path';
import { KEY_ALGORITHMS, initPki, type InitPkiResult, type KeyAlgorithm } from '@controlplane/platform';
import { CliError, EXIT, type Command } from '../command.js';
import { PKI_INIT_EXITS, cliErrorFor } from '../internal-errors.js';
import { listFlag, stringFlag } from '../flags.js';

const DEFAULT_TRUST_DOMAIN = 'controlplane.local';
const DEFAULT_DATA_DIR = '.controlplane';

const USAGE = `usage: controlplane pki init [--dir <dir>] [--trust-domain <domain>] [--algorithm ecdsa-p256|ed25519]
                             [--service <name>]... [--host <name-or-ip>]... [--force] [--json]

Creates the built-in certificate authority and one mTLS certificate per service:
  <dir>/ca.crt, <dir>/ca.key                 the CA (whoever holds ca.key can mint identities)
  <dir>/<service>.crt, <dir>/<service>.key   spiffe://<domain>/service/<service>

  --dir            where to write (default: $CONTROLPLANE_DATA_DIR/pki, else ${DEFAULT_DATA_DIR}/pki)
  --trust-domain   SPIFFE trust domain (default: $CONTROLPLANE_TRUST_DOMAIN, else ${DEFAULT_TRUST_DOMAIN})
  --algorithm      key algorithm: ecdsa-p256 (default) or ed25519
  --service        a service to certify; repeat for several (default: gateway, jobforge, truthcore)
  --host           a DNS name or IP put in every service certificate; repeat for several
                   (default: localhost, 127.0.0.1, ::1)
  --force          replace an existing CA; every certificate it issued stops being trusted
  --json           print the result as JSON

Private keys are written with mode 0600 and a new directory with mode 0700.`;

function parseAlgorithm(value: string | undefined): KeyAlgorithm | undefined {
  if (value === undefined) return undefined;
  const found = KEY_ALGORITHMS.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!found) throw new CliError(`unknown --algorithm '${value}'; use ecdsa-p256 or ed25519`, EXIT.USAGE);
  return found;
}

function describe(result: InitPkiResult): string {
  const shown = (file: string): string => relative(result.dir, file);
  const rows: Array<[string, string, string]> = [
    ['CA', `${shown(result.ca.certFile)}, ${shown(result.ca.keyFile)}`, `until ${result.ca.notAfter.toISOString().slice(0, 10)}`],
    ...result.services.map((s): [string, string, string] => [s.name, `${shown(s.certFile)}, ${shown(s.keyFile)}`, s.spiffeId]),
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return [
    `Created a PKI for trust domain ${result.trustDomain} in ${result.dir} (${result.algorithm} keys)`,
    ...rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`),
    `  CA fingerprint (SHA-256): ${result.ca.fingerprint256}`,
    'Private keys are readable by their owner only (0600). ca.key signs every identity in the trust domain:',
    'only jobforge, which enrols runners, needs it.',
    '',
  ].join('\n');
}

export const pkiInitCommand: Command = {
  path: ['pki', 'init'],
  usage: USAGE,
  options: {
    dir: { type: 'string' },
    'trust-domain': { type: 'string' },
    algorithm: { type: 'string' },
    service: { type: 'string', multiple: true },
    host: { type: 'string', multiple: true },
    force: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new CliError(`unexpected argument '${ctx.positionals[0]}'\n\n${USAGE}`, EXIT.USAGE);
    const dir = stringFlag(ctx, 'dir') ?? join(ctx.env.CONTROLPLANE_DATA_DIR || DEFAULT_DATA_DIR, 'pki');
    const trustDomain = stringFlag(ctx, 'trust-domain') ?? (ctx.env.CONTROLPLANE_TRUST_DOMAIN || DEFAULT_TRUST_DOMAIN);
    const algorithm = parseAlgorithm(stringFlag(ctx, 'algorithm'));
    const services = listFlag(ctx, 'service');
    const hosts = listFlag(ctx, 'host');
    let result: InitPkiResult;
    try {
      result = await initPki({
        dir,
        trustDomain,
        force: ctx.values.force === true,
        ...(algorithm ? { algorithm } : {}),
        ...(services ? { services } : {}),
        ...(hosts ? { hosts } : {}),
      });
    } catch (err) {
      const refused = cliErrorFor(err, PKI_INIT_EXITS);
      if (refused) throw refused;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EEXIST' || code === 'ENOTDIR') {
        throw new CliError(`cannot write to ${dir}: ${(err as Error).message}`, code === 'EEXIST' ? EXIT.CONFLICT : EXIT.FAILURE);
      }
      throw err;
    }
    ctx.stdout.write(ctx.values.json === true ? JSON.stringify(result, null, 2) + '\n' : describe(result));
    return EXIT.OK;
  },
};
