// What the tabs share: the worker engine, the GPT-2 and the generator it holds, and where models come
// from. The engine runs in a Web Worker, so loading and generating never block this page.
import { connectWorker, type WorkerEngine, type WorkerGenerator, type WorkerGPT2 } from 'webgen';
import { Slot } from './dom.js';

/** The embedded default models, served by this site (copied from pretrained/ at build). */
export const DEFAULT_GPT2 = new URL('./models/gpt2-kjv/', document.baseURI).href;
export const DEFAULT_GENERATOR = new URL('./models/dcgan-emoji/', document.baseURI).href;

export interface LoadedGPT2 {
  lm: WorkerGPT2;
  /** Where it came from, for the page ("default", a URL, a hub id, or "local files"). */
  name: string;
  dtype: string;
}

export interface LoadedGenerator {
  gan: WorkerGenerator;
  name: string;
}

export interface App {
  engine: WorkerEngine;
  /** The adapter the main thread saw (the worker's device uses the same). */
  adapter: GPUAdapter;
  gpt2: Slot<LoadedGPT2>;
  generator: Slot<LoadedGenerator>;
}

export function createApp(adapter: GPUAdapter): App {
  const engine = connectWorker(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }));
  return { engine, adapter, gpt2: new Slot(), generator: new Slot() };
}
