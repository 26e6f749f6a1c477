// How sandbox processes are confined, decided without starting one: which modes a host can offer, and
// what the start command of each mode asks of bubblewrap and of Node's permission model.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activeLayers, confinementShortfall, sandboxCommand, type ConfinementLayers } from '@controlplane/runner';

const full: ConfinementLayers = { namespaces: true, permissionModel: true, separateUid: true };
const noNamespaces: ConfinementLayers = { ...full, namespaces: false };

// A handlers directory with the runner's identity inside it (which must be hidden), on disk: only a
// hidden path that exists can be covered.
const handlersDir = mkdtempSync(join(tmpdir(), 'cp-confinement-unit-'));
mkdirSync(join(handlersDir, 'runner-identity'));

const params = {
  entry: '/opt/runner/dist/sandbox/child.js',
  entryArgs: [`file://${handlersDir}/index.js`, '1024'],
  readPaths: ['/opt/runner', handlersDir],
  hiddenPaths: [join(handlersDir, 'runner-identity'), '/var/lib/elsewhere'],
  tmpDir: '/tmp/controlplane-sandboxes-1/sandbox-abc',
  memoryLimitMb: 128,
  env: { PATH: '/usr/bin', SECRET_LOOKING: 'allow-listed on purpose' },
};

describe('sandbox confinement', () => {
  it('refuses strict without namespaces, and any mode without a permission model, unless none is accepted', () => {
    expect(confinementShortfall('strict', full)).toBeUndefined();
    expect(confinementShortfall('strict', noNamespaces)).toMatch(/bubblewrap.*confinement: 'permissions'/);
    expect(confinementShortfall('permissions', noNamespaces)).toBeUndefined();
    expect(confinementShortfall('permissions', { ...full, permissionModel: false })).toMatch(/permission model/);
    expect(confinementShortfall('none', { namespaces: false, permissionModel: false, separateUid: false })).toBeUndefined();
    expect(activeLayers('strict', full)).toEqual(['namespaces', 'permission-model', 'separate-uid']);
    expect(activeLayers('permissions', full)).toEqual(['permission-model', 'separate-uid']);
    expect(activeLayers('none', full)).toEqual([]);
  });

  it('strict: unshared namespaces, read-only binds of the read paths only, hidden paths covered, writes only to its own directory', () => {
    const cmd = sandboxCommand({ mode: 'strict', ...params });
    expect(cmd.command).toBe('/usr/bin/bwrap');
    const args = cmd.args.join(' ');
    expect(args).toContain('--unshare-all --die-with-parent --new-session --cap-drop ALL');
    expect(args).toContain('--ro-bind /opt/runner /opt/runner');
    expect(args).toContain(`--ro-bind ${handlersDir} ${handlersDir}`);
    // Only a hidden path inside a read path needs covering; the other is not there to begin with.
    expect(args).toContain(`--tmpfs ${handlersDir}/runner-identity`);
    expect(args).not.toContain('/var/lib/elsewhere');
    expect(args).toContain(`--bind ${params.tmpDir} /sandbox/tmp --remount-ro /`);
    expect(args).toContain('--clearenv');
    expect(args).toContain(`--allow-fs-read=${handlersDir}`);
    expect(args).toContain('--allow-fs-write=/sandbox/tmp');
    expect(args).not.toMatch(/--allow-(child-process|worker|addons)/);
    expect(args).toMatch(/--max-old-space-size=128 --experimental-permission/);
    // The host's root is never bound, nor the host's /tmp.
    expect(args).not.toMatch(/--(ro-)?bind \/ /);
    expect(args).not.toMatch(/--bind \/tmp \//);
  });

  it('permissions: the permission model alone, writes only to the private directory', () => {
    const cmd = sandboxCommand({ mode: 'permissions', ...params });
    expect(cmd.command).toBe(process.execPath);
    expect(cmd.args).toContain(`--allow-fs-write=${params.tmpDir}`);
    expect(cmd.env).toMatchObject({ TMPDIR: params.tmpDir, PATH: '/usr/bin' });
    const none = sandboxCommand({ mode: 'none', ...params });
    expect(none.args.join(' ')).not.toContain('--experimental-permission');
  });
});
