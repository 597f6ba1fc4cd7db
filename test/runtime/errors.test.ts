// Typed errors: every class names itself and has a stable, distinct code (what a worker boundary and
// a minifier leave intact), and is a WebgenError.
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, WebgenError } from '../../src/errors.js';

describe('errors', () => {
  it('each class has its own name and a distinct E_ code', () => {
    const codes = new Set<string>();
    for (const [name, Cls] of Object.entries(ERROR_CLASSES)) {
      const e = new Cls('what went wrong', { cause: 'x' });
      expect(e.name).toBe(name);
      expect(e).toBeInstanceOf(WebgenError);
      expect(e.code).toMatch(/^E_[A-Z0-9_]+$/);
      expect(e.message).toBe('what went wrong');
      expect(String(e)).toBe(`${name}: what went wrong`);
      codes.add(e.code);
    }
    expect(codes.size).toBe(Object.keys(ERROR_CLASSES).length);
  });
});
