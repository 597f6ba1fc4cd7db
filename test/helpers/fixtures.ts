// Reading the committed reference fixtures (written by tools/*.py) in Node tests.
import { readFileSync } from 'node:fs';
import { SafeTensors } from '../../src/loaders/safetensors.js';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

export function loadSafetensors(path: string): SafeTensors {
  return SafeTensors.fromBytes(new Uint8Array(readFileSync(path)), path);
}

export function loadJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
