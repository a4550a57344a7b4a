import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from './config.js';

// Every variable the service reads is one an operator can find: in .env.example and in the
// configuration table of docs/operations.md. Tests run from the repository root.
const read = (file: string) => readFileSync(file, 'utf8');

/** The variables named in the first column of the first table under "## Configuration" in docs/operations.md. */
function configurationTable(): string[] {
  const lines = read('docs/operations.md').split('\n');
  const heading = lines.indexOf('## Configuration');
  if (heading < 0) throw new Error('docs/operations.md has no "## Configuration" section');
  const first = lines.findIndex((line, i) => i > heading && line.startsWith('|'));
  const next = lines.findIndex((line, i) => i > heading && line.startsWith('## '));
  if (first < 0 || (next >= 0 && first > next)) throw new Error('the Configuration section of docs/operations.md has no table');
  const end = lines.findIndex((line, i) => i > first && !line.startsWith('|'));
  return lines.slice(first, end < 0 ? undefined : end).flatMap((row) => {
    const name = /^\| `([A-Z0-9_]+)` \|/.exec(row);
    return name ? [name[1]] : [];
  });
}

describe('configuration is documented', () => {
  it.each(CONFIG_VARIABLES)('%s is in .env.example and in the configuration table of docs/operations.md', (name) => {
    expect(read('.env.example')).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
    expect(configurationTable()).toContain(name);
  });

  it('the configuration table names no variable the service does not read (NODE_ENV aside)', () => {
    const known = new Set<string>([...CONFIG_VARIABLES, 'NODE_ENV']);
    expect(configurationTable().filter((name) => !known.has(name))).toEqual([]);
  });

  it('docker compose has no default admin key: it refuses to start until one is set', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/ADMIN_API_KEY: \$\{ADMIN_API_KEY:\?[^}]+\}/);
    expect(compose).not.toContain('dev-admin-key-change-me');
  });
});
