import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from './config.js';

// Every variable the service reads is one an operator can find: in .env.example and in the
// README's configuration table. Tests run from the repository root.
const read = (file: string) => readFileSync(file, 'utf8');

describe('configuration is documented', () => {
  it.each(CONFIG_VARIABLES)('%s is in .env.example and in the README configuration table', (name) => {
    expect(read('.env.example')).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
    expect(read('README.md')).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });

  it('docker compose has no default admin key: it refuses to start until one is set', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/ADMIN_API_KEY: \$\{ADMIN_API_KEY:\?[^}]+\}/);
    expect(compose).not.toContain('dev-admin-key-change-me');
  });
});
