import { describe, expect, it } from 'vitest';
import { redactArgv, redactEnv, redactText } from '../../../src/core/audit/redact';

describe('redactText', () => {
  const cases: [string, string, string][] = [
    ['openai key', 'OPENAI=sk-proj-abcdefghijklmnopqrstuvwx', 'sk-proj'],
    ['github classic', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_'],
    ['github oauth', 'token gho_abcdefghijklmnopqrstuvwxyz0123', 'gho_'],
    ['github fine-grained', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'github_pat_'],
    ['slack', 'xoxb-123456789012-abcdefghijkl', 'xoxb-'],
    ['aws', 'key AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE'],
    ['jwt', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJ'],
    ['password=', 'mysql --password=hunter2secret', 'hunter2'],
    ['passwd=', 'passwd=letmein123', 'letmein'],
    ['token=', 'https://api.example.com/?token=abc123def456', 'abc123'],
    ['secret=', 'SECRET=topsecretvalue', 'topsecret'],
    ['api_key=', 'api_key: 0123456789abcdef', '0123456789'],
    ['bearer', 'Authorization: Bearer abcdef.ghijkl.mnopq', 'abcdef'],
    ['flag inside a shell string', "bash -c 'mysql --password hunter2pass -u root'", 'hunter2pass'],
    ['url userinfo', 'git clone https://alice:s3cr3tpass@github.com/x/y.git', 's3cr3tpass'],
    ['basic', 'Authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpw'],
    ['access_key=', 'aws_access_key=AKxyz0123456789', 'AKxyz0123456789'],
    ['private-key:', 'private-key: abcdef123456', 'abcdef123456'],
    ['client_secret=', 'client_secret=qwertyuiop12', 'qwertyuiop12'],
    ['APIKEY=', 'APIKEY=abcdef123456', 'abcdef123456'],
    ['auth-token flag inside a shell string', "sh -c 'tool --auth-token zzzz9999 run'", 'zzzz9999'],
  ];
  for (const [name, input, secret] of cases) {
    it(`redacts ${name}`, () => {
      const out = redactText(input);
      expect(out).not.toContain(secret);
      expect(out).toMatch(/«redacted:[a-z-]+»/);
    });
  }

  it('redacts a PEM block as one unit', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----';
    expect(redactText(`key=${pem} tail`)).toBe('key=«redacted:pem» tail');
  });

  it('keeps the key names visible and the host of a URL', () => {
    expect(redactText('--password=hunter22')).toBe('--password=«redacted:assignment»');
    expect(redactText('https://u:p4ss@example.com/x')).toBe('https://«redacted:url-userinfo»@example.com/x');
    expect(redactText('Authorization: Bearer abcdefgh')).toBe('Authorization: Bearer «redacted:bearer»');
  });

  it('leaves ordinary commands alone', () => {
    for (const s of ['git status', 'npm run build', 'https://example.com/a?b=c', 'ls -la /tmp', 'echo skipped-it', 'PWD=/home/u']) {
      expect(redactText(s)).toBe(s);
    }
  });

  it('leaves compiler flags alone', () => {
    // cc1's argv: flags with = and - that hold no secret (they used to run every pattern).
    const argv = ['-quiet', '-imultiarch', 'x86_64-linux-gnu', '-dumpbase-ext', '.c', '-mtune=generic', '-march=x86-64', '-O1', '-o', '/tmp/ccAbCdEf.s'];
    expect(redactArgv(argv)).toEqual(argv);
  });

  it('is idempotent', () => {
    const once = redactText('curl -H "Authorization: Bearer abcdefgh" https://u:p@h/?token=zzzzzzzz');
    expect(redactText(once)).toBe(once);
  });
});

describe('redactArgv', () => {
  it('redacts the value following a secret flag', () => {
    expect(redactArgv(['mysql', '--password', 'hunter2', '-u', 'root'])).toEqual(['mysql', '--password', '«redacted:flag-value»', '-u', 'root']);
  });
  it('redacts inside each argument', () => {
    expect(redactArgv(['curl', '-H', 'Authorization: Bearer abcdefgh'])).toEqual(['curl', '-H', 'Authorization: Bearer «redacted:bearer»']);
  });
});

describe('redactEnv', () => {
  it('hides values of secret-looking names and keeps the rest', () => {
    expect(redactEnv({ GITHUB_TOKEN: 'x', HOME: '/root', AWS_SECRET_ACCESS_KEY: 'abc', PATH: '/usr/bin' })).toEqual({
      GITHUB_TOKEN: '«redacted:env»',
      HOME: '/root',
      AWS_SECRET_ACCESS_KEY: '«redacted:env»',
      PATH: '/usr/bin',
    });
  });
});
