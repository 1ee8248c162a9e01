import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeSelfSigned, tempDir } from './support/certificates';

/**
 * The configuration files of docs/deployment.md, checked by the tools that will read them: `nginx -t`,
 * `caddy validate`, `systemd-analyze verify`. A tool the machine lacks skips its check and says how to install it
 * (CI installs nginx-light and caddy). Only what cannot exist on a test machine (certificate and log paths) is pointed
 * elsewhere, and each replacement must find its text, so the file checked is the file users copy.
 */
const ROOT = resolve(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const files = tempDir('tgw-deploy-');

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

function replaced(text: string, replacements: [string, string][]): string {
  for (const [from, to] of replacements) {
    expect(text, `the file no longer contains ${from}`).toContain(from);
    text = text.split(from).join(to);
  }
  return text;
}

/** stdout and stderr together, whatever the exit status. */
function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('deployment files (docs/deploy)', () => {
  afterAll(() => files.remove());

  it('are shown in docs/deployment.md exactly as they are in docs/deploy/', () => {
    const doc = read('docs/deployment.md');
    const shown = [...doc.matchAll(/<!-- file: (\S+) -->\n\n```\w*\n([\s\S]*?)```/g)];
    expect(shown.map((m) => m[1]).sort()).toEqual([
      'docs/deploy/Caddyfile',
      'docs/deploy/docker-compose.https.yml',
      'docs/deploy/nginx.conf',
      'docs/deploy/tg-gateway.service',
    ]);
    for (const [, file, text] of shown) expect(text, file).toBe(read(file));
  });

  it('nginx: never logs the request line or URI, only the path with the token cut out', () => {
    const conf = read('docs/deploy/nginx.conf');
    const format = /log_format tg_gateway ([\s\S]*?);/.exec(conf)?.[1] ?? '';
    expect(format).toContain('$tg_gateway_logged_path');
    expect(format).not.toMatch(/\$(request|request_uri|uri|args|query_string)\b/);
    expect(conf).toMatch(/access_log \S+ tg_gateway;/);
  });

  const nginx = has('nginx');
  it.runIf(nginx)('nginx: nginx -t accepts nginx.conf inside an http block', () => {
    const cert = makeSelfSigned(files.dir, 'gateway.example.com', 'nginx');
    const site = replaced(read('docs/deploy/nginx.conf'), [
      ['/etc/letsencrypt/live/gateway.example.com/fullchain.pem', cert.certFile],
      ['/etc/letsencrypt/live/gateway.example.com/privkey.pem', cert.keyFile],
      ['/var/log/nginx/', `${files.dir}/`],
    ]);
    writeFileSync(join(files.dir, 'site.conf'), site);
    writeFileSync(
      join(files.dir, 'nginx-main.conf'),
      `pid ${files.dir}/nginx.pid;\nerror_log ${files.dir}/nginx-error.log;\nevents {}\nhttp {\n  include ${files.dir}/site.conf;\n}\n`,
    );
    const result = run('nginx', ['-t', '-p', files.dir, '-c', join(files.dir, 'nginx-main.conf')]);
    expect(result.output).toContain('test is successful');
    expect(result.status).toBe(0);
  });
  it.skipIf(nginx)('nginx: nginx -t skipped — nginx is not installed (apt-get install nginx-light)', () => {});

  const caddy = has('caddy');
  it.runIf(caddy)('Caddy: caddy validate accepts the Caddyfile', () => {
    const caddyfile = replaced(read('docs/deploy/Caddyfile'), [['/var/log/caddy/', `${files.dir}/`]]);
    writeFileSync(join(files.dir, 'Caddyfile'), caddyfile);
    const result = run('caddy', ['validate', '--config', join(files.dir, 'Caddyfile'), '--adapter', 'caddyfile']);
    expect(result.output).toContain('Valid configuration');
    expect(result.status).toBe(0);
  });
  it.skipIf(caddy)('Caddy: caddy validate skipped — caddy is not installed (apt-get install caddy)', () => {});

  const systemd = has('systemd-analyze') && has('/usr/bin/node');
  it.runIf(systemd)('systemd: systemd-analyze verify accepts tg-gateway.service without a warning', () => {
    const result = run('systemd-analyze', ['verify', join(ROOT, 'docs/deploy/tg-gateway.service')]);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });
  it.skipIf(systemd)(
    'systemd: systemd-analyze verify skipped — needs systemd-analyze and /usr/bin/node (apt-get install systemd)',
    () => {},
  );

  it('Compose: the HTTPS override names services of docker-compose.yml and settings of the gateway', () => {
    const base = parse(read('docker-compose.yml')) as { services: Record<string, unknown> };
    const override = parse(read('docs/deploy/docker-compose.https.yml')) as {
      services: Record<string, { environment: Record<string, string>; ports: string[] }>;
    };
    for (const name of Object.keys(override.services)) expect(Object.keys(base.services)).toContain(name);
    const settings = read('src/config/config.ts');
    for (const [name, value] of Object.entries(override.services.api.environment)) {
      expect(settings).toContain(`'${name}'`);
      expect(typeof value).toBe('string');
    }
    const port = override.services.api.environment.PORT;
    expect(override.services.api.ports).toEqual([`${port}:${port}`]);
    expect([443, 80, 88, 8443]).toContain(Number(port));
  });

  it('systemd: the unit starts the files the build makes', () => {
    const unit = read('docs/deploy/tg-gateway.service');
    const started = [...unit.matchAll(/\/opt\/tg-gateway\/(dist\/[\w-]+\.js)/g)].map((m) => m[1]);
    expect(started).toEqual(['dist/migrate.js', 'dist/main.js']);
    for (const file of started) expect(execFileSync('ls', [join(ROOT, file)]).toString()).toContain(file);
  });
});
