// Validates docker-compose.yml (and the worker's Dockerfile) without a Docker engine:
// the file must satisfy the official Compose Specification JSON schema and the wiring evsys
// relies on (services, published ports, worker environment, start order, no hard-coded secrets).
//
// The schema is not written here: it is `schemas/compose.schema.json` of the npm package
// `dclint` (devDependency, pinned), a verbatim copy of compose-spec/compose-spec's
// `schema/compose-spec.json` (dclint 3.1.0 ships the one of 2025-07-21). It is JSON Schema
// draft-07, so Ajv's default (draft-07) class; it uses no `format` keyword, so no formats are
// registered (strict mode would throw on an unknown one).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(__dirname, '..', '..');
const composePath = path.join(repoRoot, 'docker-compose.yml');

type Env = Record<string, string | null>;
interface Port {
  hostIp?: string;
  published?: string;
  target: string;
  protocol: string;
}
interface Mount {
  source?: string;
  target: string;
}
// Loose view of a parsed compose file: the schema, not this type, decides what is valid.
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | number | { target: number | string; published?: number | string; host_ip?: string; protocol?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  [key: string]: unknown;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

function loadSchema(): Record<string, unknown> {
  const requireFromRoot = createRequire(path.join(repoRoot, 'package.json'));
  // dclint's `exports` lists only `.` and `./package.json`, so locate the schema beside the latter.
  const dir = path.dirname(requireFromRoot.resolve('dclint/package.json'));
  return JSON.parse(readFileSync(path.join(dir, 'schemas', 'compose.schema.json'), 'utf8'));
}

function compileComposeValidator(schema: Record<string, unknown>): ValidateFunction {
  // strictTypes is off because the upstream schema relies on union types and type-less
  // `additionalProperties` branches; unknown keywords and formats still throw (strict).
  const ajv = new Ajv({ strict: true, strictTypes: false, allErrors: true });
  // Upstream writes `https://json-schema.org/draft-07/schema`; Ajv knows draft-07's meta-schema
  // by its canonical id, so name that one and let Ajv check the schema against it on compile.
  return ajv.compile({ ...schema, $schema: 'http://json-schema.org/draft-07/schema#' });
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}

function environment(service: Service): Env {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? [entry, null] : [entry.slice(0, i), entry.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? null : String(v)]));
}

function ports(service: Service): Port[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      return {
        target: String(p.target),
        published: p.published === undefined ? undefined : String(p.published),
        hostIp: p.host_ip,
        protocol: p.protocol ?? 'tcp',
      };
    }
    // [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
    const [spec, protocol = 'tcp'] = String(p).split('/');
    const parts = spec.split(':');
    const target = parts.pop() as string;
    const published = parts.pop();
    return { target, published, hostIp: parts.length ? parts.join(':') : undefined, protocol };
  });
}

function mounts(service: Service): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source, target: v.target };
    const parts = v.split(':');
    return parts.length === 1 ? { target: parts[0] } : { source: parts[0], target: parts[1] };
  });
}

function dependsOn(service: Service): Record<string, string> {
  const deps = service.depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([d, v]) => [d, v?.condition ?? 'service_started']));
}

function command(service: Service): string[] | undefined {
  const c = service.command;
  return typeof c === 'string' ? c.trim().split(/\s+/) : c;
}

const SECRET_NAME = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$/i;
// A value that is exactly one variable reference, with at most an error message (`:?msg`, `?msg`)
// or an empty default (`:-`, `-`): anything else would put a secret in the file.
const SECRET_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*|:?-)?\}$/;

/** `service.VAR` for each secret-looking variable whose value is written in the file. */
function hardCodedSecrets(doc: ComposeFile): string[] {
  const found: string[] = [];
  for (const [name, service] of Object.entries(doc.services)) {
    for (const [key, value] of Object.entries(environment(service))) {
      if (!SECRET_NAME.test(key) || value === null) continue; // bare `KEY` passes the host's value
      if (!SECRET_REFERENCE.test(value)) found.push(`${name}.${key}`);
    }
  }
  return found;
}

function referencedVariable(value: string | null | undefined): string | undefined {
  return value == null ? undefined : SECRET_REFERENCE.exec(value)?.[1];
}

describe('docker-compose.yml', () => {
  let schema: Record<string, unknown>;
  let validate: ValidateFunction;
  let doc: ComposeFile;

  beforeAll(() => {
    schema = loadSchema();
    validate = compileComposeValidator(schema);
    doc = parse(readFileSync(composePath, 'utf8')) as ComposeFile;
  });

  it('uses the Compose Specification schema, JSON Schema draft-07', () => {
    expect(schema.title).toBe('Compose Specification');
    expect(String(schema.$schema)).toMatch(/draft-07/);
    expect(Object.keys(schema.properties as object)).toEqual(expect.arrayContaining(['services', 'volumes', 'name']));
  });

  it('is valid against the Compose Specification', () => {
    const valid = validate(doc);
    expect(formatErrors(validate.errors)).toBe('');
    expect(valid).toBe(true);
  });

  describe('the schema rejects an invalid file', () => {
    const mutations: Array<[string, (d: ComposeFile) => void]> = [
      ['ports that are not a list', (d) => { d.services.temporal.ports = 'x' as unknown as Service['ports']; }],
      ['an unknown top-level key', (d) => { d.servics = {}; }],
      ['an unknown service key', (d) => { d.services['evsys-worker'].imagee = 'evsys-worker:local'; }],
      ['an unknown depends_on condition', (d) => {
        d.services['evsys-worker'].depends_on = { temporal: { condition: 'service_ready' } };
      }],
      ['a service name with a space', (d) => { d.services['evsys worker'] = d.services['evsys-worker']; }],
    ];
    it.each(mutations)('%s', (_label, mutate) => {
      const copy = structuredClone(doc);
      mutate(copy);
      expect(validate(copy)).toBe(false);
      expect(validate.errors?.length).toBeGreaterThan(0);
    });
  });

  it('defines the four services', () => {
    expect(Object.keys(doc.services).sort()).toEqual(['evsys-worker', 'postgresql', 'temporal', 'temporal-ui']);
  });

  it('pins every pulled image to a released version', () => {
    const s = doc.services;
    expect(s.postgresql.image).toMatch(/^postgres:\d+(\.\d+)?$/);
    expect(s.temporal.image).toMatch(/^temporalio\/auto-setup:1\.\d+\.\d+$/);
    expect(s['temporal-ui'].image).toMatch(/^temporalio\/ui:2\.\d+\.\d+$/);
    for (const [name, service] of Object.entries(s)) {
      if (service.build !== undefined) continue;
      expect(service.image, name).not.toMatch(/:latest$/);
      expect(service.image, name).toMatch(/:[\w][\w.-]*$/);
    }
  });

  it('publishes Temporal on 7233 and the UI on 8080, on loopback, and not the database', () => {
    const published = (name: string) => ports(doc.services[name]).map((p) => `${p.published}:${p.target}/${p.protocol}`);
    expect(published('temporal')).toContain('7233:7233/tcp');
    expect(published('temporal-ui')).toContain('8080:8080/tcp');
    expect(published('postgresql')).toEqual([]);
    // Nothing here authenticates: no port may listen on every interface.
    for (const [name, service] of Object.entries(doc.services)) {
      for (const p of ports(service)) expect(p.hostIp, `${name} ${p.published}:${p.target}`).toBe('127.0.0.1');
    }
  });

  it('keeps PostgreSQL data in a named volume behind a healthcheck', () => {
    const pg = doc.services.postgresql;
    const data = mounts(pg).find((m) => m.target === '/var/lib/postgresql/data');
    expect(data?.source).toBeDefined();
    expect(Object.keys(doc.volumes ?? {})).toContain(data?.source);
    expect(pg.healthcheck?.test).toBeDefined();
    expect(pg.healthcheck?.disable).not.toBe(true);
  });

  it('configures auto-setup for PostgreSQL', () => {
    const env = environment(doc.services.temporal);
    const pgEnv = environment(doc.services.postgresql);
    expect(env.DB).toBe('postgres12');
    expect(env.DB_PORT).toBe('5432');
    expect(env.POSTGRES_SEEDS).toBe('postgresql');
    expect(doc.services[env.POSTGRES_SEEDS as string]).toBeDefined();
    expect(env.POSTGRES_USER).toBe(pgEnv.POSTGRES_USER);
    // Same password variable on both sides, and a reference rather than a value.
    expect(referencedVariable(env.POSTGRES_PWD)).toBeDefined();
    expect(referencedVariable(env.POSTGRES_PWD)).toBe(referencedVariable(pgEnv.POSTGRES_PASSWORD));
  });

  it('points the UI and the worker at the temporal service', () => {
    const temporalTargets = ports(doc.services.temporal).map((p) => p.target);
    for (const name of ['temporal-ui', 'evsys-worker']) {
      const address = environment(doc.services[name]).TEMPORAL_ADDRESS;
      expect(address, name).toBe('temporal:7233');
      const [host, port] = (address as string).split(':');
      expect(doc.services[host], name).toBeDefined();
      expect(temporalTargets, name).toContain(port);
    }
  });

  it('builds and runs the worker with its environment and ledger volume', () => {
    const worker = doc.services['evsys-worker'];
    const build = typeof worker.build === 'string' ? { context: worker.build } : worker.build;
    expect(build?.context).toBe('.');
    expect(existsSync(path.join(repoRoot, build?.context ?? '.', build?.dockerfile ?? 'Dockerfile'))).toBe(true);
    expect(command(worker)).toEqual(['npx', 'evsys', 'worker']);

    const env = environment(worker);
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'default',
      EVSYS_TASK_QUEUE: 'evsys',
      EVSYS_LEDGER: '/data/ledger.sqlite',
    });
    const data = mounts(worker).find((m) => m.target === '/data');
    expect(data?.source).toBeDefined();
    expect(Object.keys(doc.volumes ?? {})).toContain(data?.source);
    expect(path.posix.dirname(env.EVSYS_LEDGER as string)).toBe(data?.target);
  });

  it('starts services in dependency order, waiting on healthchecks', () => {
    const deps = Object.fromEntries(Object.entries(doc.services).map(([n, s]) => [n, dependsOn(s)]));
    expect(deps.postgresql).toEqual({});
    expect(deps.temporal).toEqual({ postgresql: 'service_healthy' });
    expect(Object.keys(deps['temporal-ui'])).toEqual(['temporal']);
    expect(deps['evsys-worker']).toEqual({ temporal: 'service_healthy' });

    for (const [name, targets] of Object.entries(deps)) {
      for (const [target, condition] of Object.entries(targets)) {
        expect(doc.services[target], `${name} -> ${target}`).toBeDefined();
        if (condition === 'service_healthy') {
          expect(doc.services[target].healthcheck?.test, `${target} needs a healthcheck`).toBeDefined();
          expect(doc.services[target].healthcheck?.disable).not.toBe(true);
        }
      }
    }
    // No cycle: a topological order exists.
    const done = new Set<string>();
    const visit = (n: string, path: string[]): void => {
      if (path.includes(n)) throw new Error(`depends_on cycle: ${[...path, n].join(' -> ')}`);
      if (done.has(n)) return;
      for (const d of Object.keys(deps[n] ?? {})) visit(d, [...path, n]);
      done.add(n);
    };
    for (const n of Object.keys(deps)) visit(n, []);
    expect(done.size).toBe(4);
  });

  it('hard-codes no secret: the API key and the database password are ${VAR} references', () => {
    expect(hardCodedSecrets(doc)).toEqual([]);
    const workerEnv = environment(doc.services['evsys-worker']);
    expect(referencedVariable(workerEnv.OPENAI_API_KEY)).toBe('OPENAI_API_KEY');
    expect(readFileSync(composePath, 'utf8')).not.toMatch(/\bsk-[A-Za-z0-9_-]{8,}/);
  });

  it('the secret check catches a literal key or a key hidden in a default', () => {
    for (const value of ['sk-test-0123456789abcdef', '${OPENAI_API_KEY:-sk-test-0123456789}', 'x${OPENAI_API_KEY}']) {
      const copy = structuredClone(doc);
      (copy.services['evsys-worker'].environment as Record<string, string>).OPENAI_API_KEY = value;
      expect(hardCodedSecrets(copy), value).toEqual(['evsys-worker.OPENAI_API_KEY']);
    }
  });
});

describe('worker image', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('builds on node:20-bookworm-slim with production dependencies only', () => {
    const bases = instructions.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toBe('node:20-bookworm-slim');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });

  it('copies what `npm ci` and the CLI need', () => {
    const at = (re: RegExp) => instructions.findIndex((l) => re.test(l));
    const npmCi = at(/npm ci\b/);
    // The postinstall script has to be in the image before `npm ci` runs it.
    expect(at(/^COPY\s+package\.json\s+package-lock\.json\b/)).toBeLessThan(npmCi);
    expect(at(/^COPY\s+scripts\b/)).toBeGreaterThanOrEqual(0);
    expect(at(/^COPY\s+scripts\b/)).toBeLessThan(npmCi);
    for (const dir of ['src', 'bin', 'examples']) expect(at(new RegExp(`^COPY\\s+${dir}\\b`)), dir).toBeGreaterThan(npmCi);
  });

  it('keeps local state out of the build context', () => {
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.tools', '.evsys', '.git', 'test-artifacts']));
  });
});
